"""Secrets that cannot leak by accident: a wrapper whose every printed form is ``***``.

A :class:`Secret` holds a token, webhook URL or signing key. ``repr``, ``str``, f-strings,
``%`` formatting, logging and tracebacks all show ``Secret('***')``; only :meth:`Secret.reveal`
gives the value, so every place that uses it is easy to find. Two secrets never compare
equal by value (that would let a test or a log assertion print one), and a secret is not
hashable by value either.

:func:`secret_from_env` reads ``NAME`` or, for Docker/Kubernetes secrets mounted as files,
``NAME_FILE`` (the file's content, stripped), through :func:`streams.settings.read_secret`,
the one reader of secrets the settings object uses too. Pure: the environment is passed in
(it defaults to ``os.environ`` only at call time), nothing is read at import.

Out of scope: encryption at rest, zeroing memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NoReturn

__all__ = ["MASK", "Secret", "secret_from_env"]

#: What every printed form of a secret shows.
MASK = "Secret('***')"


class Secret:
    """An opaque secret string. Immutable; printing it shows :data:`MASK`."""

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret value must be a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The secret value. Call it only where the value is sent to its peer."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        # Identity only: comparing by value would invite asserts that print the value.
        return self is other

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self  # immutable: a copy may be the object itself

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self  # lets dataclasses.asdict() and deepcopy of a config work

    def __reduce__(self) -> NoReturn:
        # Refuse pickling: a pickled secret ends up in caches and task queues in the clear.
        raise TypeError("Secret cannot be pickled")


def secret_from_env(name: str, env: Mapping[str, str] | None = None) -> Secret | None:
    """``env[name]`` or the stripped content of the file named by ``env[name + "_FILE"]``.

    ``NAME`` wins when both are set. Empty values count as unset; returns ``None`` when
    neither is set. A missing or unreadable ``NAME_FILE`` raises ``OSError`` naming the
    variable and the path (never the content).
    """
    from streams.settings import SettingError, read_secret

    try:
        value = read_secret(os.environ if env is None else env, name)
    except SettingError as exc:  # the message names NAME_FILE and the path
        raise OSError(str(exc)) from None
    return Secret(value) if value else None
