"""Secrets never print their value, and load from ``NAME`` or ``NAME_FILE``."""

from __future__ import annotations

import copy
import logging
import pickle
import traceback
from pathlib import Path

import pytest

from alerts.errors import DeliveryError
from alerts.secrets import MASK, Secret, secret_from_env

pytestmark = pytest.mark.timeout(10)

VALUE = "xoxb-very-secret-value"


def test_every_printed_form_is_masked() -> None:
    s = Secret(VALUE)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", "%s %r" % (s, s), str([s])):  # noqa: UP031
        assert VALUE not in text
    assert repr(s) == str(s) == MASK == "Secret('***')"
    assert s.reveal() == VALUE


def test_exceptions_and_tracebacks_do_not_show_it() -> None:
    s = Secret(VALUE)
    try:
        raise ValueError(f"bad token {s}", s)
    except ValueError as exc:
        rendered = "".join(traceback.format_exception(exc))
        assert VALUE not in rendered and VALUE not in repr(exc)
    err = DeliveryError(f"telegram {s}", "timeout", retriable=True)
    assert VALUE not in str(err) and VALUE not in repr(err)


def test_logging_does_not_show_it(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(VALUE)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test.secrets").info("config %s %r %s", s, s, {"token": s})
    assert VALUE not in caplog.text
    assert MASK in caplog.text


def test_frozen_and_never_equal_by_value() -> None:
    s = Secret(VALUE)
    with pytest.raises(AttributeError):
        s._value = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.anything = 1  # type: ignore[attr-defined]
    assert s == s
    assert s != Secret(VALUE)  # equality by value would invite asserts that print it
    assert s != VALUE
    assert len({s, Secret(VALUE)}) == 2
    assert copy.copy(s) is s and copy.deepcopy({"k": s})["k"] is s  # copies work; pickling refuses
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[arg-type]


def test_from_env_direct_and_unset() -> None:
    got = secret_from_env("SKYFENCE_SLACK_TOKEN", {"SKYFENCE_SLACK_TOKEN": VALUE})
    assert got is not None and got.reveal() == VALUE
    assert secret_from_env("SKYFENCE_SLACK_TOKEN", {}) is None
    assert secret_from_env("SKYFENCE_SLACK_TOKEN", {"SKYFENCE_SLACK_TOKEN": ""}) is None


def test_from_env_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {VALUE}\n", encoding="utf-8")
    got = secret_from_env("TOKEN", {"TOKEN_FILE": str(path)})
    assert got is not None and got.reveal() == VALUE
    # The direct variable wins over the file.
    got = secret_from_env("TOKEN", {"TOKEN": "direct", "TOKEN_FILE": str(path)})
    assert got is not None and got.reveal() == "direct"
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    assert secret_from_env("TOKEN", {"TOKEN_FILE": str(empty)}) is None


def test_from_env_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="TOKEN_FILE") as info:
        secret_from_env("TOKEN", {"TOKEN_FILE": str(tmp_path / "absent")})
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYFENCE_TEST_SECRET", VALUE)
    got = secret_from_env("SKYFENCE_TEST_SECRET")
    assert got is not None and got.reveal() == VALUE


def test_every_secret_reader_is_the_settings_reader(tmp_path: Path) -> None:
    """Channel secrets (quick settings and routing-file names), the settings object's own
    secrets and OpenSky's credentials are all read by ``streams.settings.read_secret``: the
    same precedence (NAME wins over NAME_FILE, empty is unset) and the same error, which
    names NAME_FILE and the path, never the content."""
    from streams.errors import ConfigError
    from streams.settings import SettingError, Settings, read_secret
    from streams.sources.spec import _secret as opensky_secret

    token = tmp_path / "token"
    token.write_text("file-token-123\n")
    env = {"SKYFENCE_TELEGRAM_TOKEN_FILE": str(token), "OPS_SLACK_URL": ""}
    assert read_secret(env, "SKYFENCE_TELEGRAM_TOKEN") == "file-token-123"
    secret = secret_from_env("SKYFENCE_TELEGRAM_TOKEN", env)
    assert secret is not None and secret.reveal() == "file-token-123"
    settings_token = Settings.load(env, overrides={}).telegram_token
    assert settings_token is not None
    assert settings_token.get_secret_value() == "file-token-123"
    assert opensky_secret(env, "SKYFENCE_TELEGRAM_TOKEN") == "file-token-123"
    env["SKYFENCE_TELEGRAM_TOKEN"] = "direct-456"
    assert read_secret(env, "SKYFENCE_TELEGRAM_TOKEN") == "direct-456"
    assert Settings.load(env, overrides={}).telegram_token.get_secret_value() == "direct-456"  # type: ignore[union-attr]
    assert read_secret(env, "OPS_SLACK_URL") is None and secret_from_env("OPS_SLACK_URL", env) is None
    broken = {"SKYFENCE_WEBHOOK_SECRET_FILE": str(tmp_path / "missing")}
    with pytest.raises(SettingError) as info:
        read_secret(broken, "SKYFENCE_WEBHOOK_SECRET")
    assert info.value.key == "SKYFENCE_WEBHOOK_SECRET_FILE" and "missing" in str(info.value)
    with pytest.raises(OSError, match="SKYFENCE_WEBHOOK_SECRET_FILE: cannot read"):
        secret_from_env("SKYFENCE_WEBHOOK_SECRET", broken)
    with pytest.raises(ConfigError, match="SKYFENCE_WEBHOOK_SECRET_FILE"):
        Settings.load(broken, overrides={})
    with pytest.raises(ConfigError, match="SKYFENCE_WEBHOOK_SECRET_FILE"):
        opensky_secret(broken, "SKYFENCE_WEBHOOK_SECRET")
