"""Settings -> aiokafka and Faust security arguments (the real handshakes are in
tests/integration/test_kafka_security.py)."""

from __future__ import annotations

import ssl

import faust
import pytest
from pydantic import SecretStr

from streams.app import faust_settings
from streams.config import StreamSettings
from streams.errors import ConfigError
from streams.kafka_auth import client_kwargs, faust_credentials
from streams.settings import SettingError

PASSWORD = "FAKE-sasl-password-3Kd"


def test_plaintext_adds_nothing() -> None:
    settings = StreamSettings()
    assert client_kwargs(settings) == {} and faust_credentials(settings) is None
    assert faust_settings(settings, "b:9092")["broker_credentials"] is None


def test_sasl_ssl_scram_maps_to_aiokafka_and_faust() -> None:
    settings = StreamSettings.from_env({
        "SKYFENCE_SECURITY_PROTOCOL": "SASL_SSL", "SKYFENCE_SASL_MECHANISM": "SCRAM-SHA-512",
        "SKYFENCE_SASL_USERNAME": "desk", "SKYFENCE_SASL_PASSWORD": PASSWORD,
        "SKYFENCE_SSL_CHECK_HOSTNAME": "false", "SKYFENCE_REPLICATION_FACTOR": "3",
    })  # fmt: skip
    assert PASSWORD not in repr(settings)
    kwargs = client_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "desk" and kwargs["sasl_plain_password"] == PASSWORD
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.check_hostname is False
    assert context.verify_mode is ssl.CERT_REQUIRED  # the chain is always verified
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL" and credentials.mechanism.value == "SCRAM-SHA-512"
    assert PASSWORD not in repr(credentials)
    conf = faust_settings(settings, "b:9092")
    assert isinstance(conf["broker_credentials"], faust.SASLCredentials)
    assert conf["topic_replication_factor"] == 3


def test_ssl_with_a_client_certificate_that_cannot_be_read_names_the_setting() -> None:
    settings = StreamSettings(security_protocol="SSL", ssl_certfile="/nonexistent/client.pem")
    with pytest.raises(ConfigError, match="SKYFENCE_SSL_CERTFILE"):
        client_kwargs(settings)
    with pytest.raises(ConfigError, match="SKYFENCE_SSL_CAFILE"):
        client_kwargs(StreamSettings(security_protocol="SSL", ssl_cafile="/nonexistent/ca.pem"))
    assert isinstance(faust_credentials(StreamSettings(security_protocol="SSL")), faust.SSLCredentials)


def test_incomplete_sasl_settings_are_refused_naming_the_key() -> None:
    with pytest.raises(SettingError) as info:
        StreamSettings.from_env({"SKYFENCE_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SKYFENCE_SASL_USERNAME": "u"})
    assert info.value.key == "SKYFENCE_SASL_PASSWORD"
    with pytest.raises(SettingError) as info:
        StreamSettings.from_env({"SKYFENCE_SECURITY_PROTOCOL": "SASL_SSL", "SKYFENCE_SASL_PASSWORD": PASSWORD})
    assert info.value.key == "SKYFENCE_SASL_USERNAME" and PASSWORD not in str(info.value)
    with pytest.raises(SettingError) as info:
        StreamSettings.from_env({"SKYFENCE_SASL_MECHANISM": "GSSAPI"})
    assert info.value.key == "SKYFENCE_SASL_MECHANISM"
    # SASL_PLAINTEXT needs no TLS context.
    plain = StreamSettings(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password=SecretStr(PASSWORD))
    assert client_kwargs(plain)["ssl_context"] is None
