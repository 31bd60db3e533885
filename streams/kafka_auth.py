"""Kafka security for every client skyfence makes: TLS and SASL from the settings.

One place turns :class:`~streams.config.StreamSettings` into what the clients take:

- :func:`client_kwargs`: keyword arguments for aiokafka's producer, consumer and admin
  client (``security_protocol``, ``sasl_mechanism``, ``sasl_plain_username``,
  ``sasl_plain_password``, ``ssl_context``);
- :func:`faust_credentials`: Faust's ``broker_credentials`` (Faust passes them to its own
  aiokafka consumer, producer and admin client).

Protocols: ``PLAINTEXT`` (default), ``SSL`` (TLS; with ``SKYFENCE_SSL_CERTFILE`` and
``SKYFENCE_SSL_KEYFILE`` also a client certificate), ``SASL_PLAINTEXT`` and ``SASL_SSL``
(SASL ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``, with ``SKYFENCE_SASL_USERNAME`` and
the secret ``SKYFENCE_SASL_PASSWORD``/``_FILE``). TLS verifies the broker's certificate against
``SKYFENCE_SSL_CAFILE`` (the system's CAs when empty) and checks its host name unless
``SKYFENCE_SSL_CHECK_HOSTNAME=false``.

A file that cannot be read raises :class:`~streams.errors.ConfigError` naming the setting;
nothing here prints the password.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.config import StreamSettings
from streams.errors import ConfigError

__all__ = ["client_kwargs", "faust_credentials", "ssl_context"]

_TLS = ("SSL", "SASL_SSL")
_SASL = ("SASL_PLAINTEXT", "SASL_SSL")


def ssl_context(settings: StreamSettings) -> ssl.SSLContext | None:
    """The TLS context for ``SSL``/``SASL_SSL`` (None otherwise)."""
    if settings.security_protocol not in _TLS:
        return None
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=settings.ssl_cafile or None
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"SKYFENCE_SSL_CAFILE: cannot load {settings.ssl_cafile}: {exc}"
        ) from None
    if settings.ssl_certfile:
        try:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile or None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"SKYFENCE_SSL_CERTFILE/SKYFENCE_SSL_KEYFILE: cannot load "
                f"{settings.ssl_certfile}: {exc}"
            ) from None
    context.check_hostname = settings.ssl_check_hostname
    return context


def _password(settings: StreamSettings) -> str:
    secret = settings.sasl_password
    if secret is None:
        raise ConfigError("SKYFENCE_SASL_PASSWORD: not set (set it or SKYFENCE_SASL_PASSWORD_FILE)")
    return str(secret.get_secret_value())


def client_kwargs(settings: StreamSettings) -> dict[str, Any]:
    """Security keyword arguments for an aiokafka client (empty for ``PLAINTEXT``)."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return {}
    out: dict[str, Any] = {"security_protocol": protocol, "ssl_context": ssl_context(settings)}
    if protocol in _SASL:
        out |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": _password(settings),
        }
    return out


def faust_credentials(settings: StreamSettings) -> Any:
    """Faust's ``broker_credentials`` for the settings (None for ``PLAINTEXT``)."""
    import faust

    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    credentials = faust.SASLCredentials(
        username=settings.sasl_username,
        password=_password(settings),
        ssl_context=context,
        mechanism=settings.sasl_mechanism,
    )
    # Faust infers SASL_SSL from an ssl_context; without one it is SASL_PLAINTEXT.
    return credentials
