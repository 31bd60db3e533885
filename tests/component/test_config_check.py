"""``skyfence config check`` and secret redaction: known fake tokens appear in no log line
(text or JSON), metric, ``/healthz`` or ``/readyz`` body, or ``config check`` output, while
alerts to every kind of channel fail and are retried and dead-lettered."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alerts.cli import main
from alerts.config import AlertSettings, build_channels
from alerts.configcheck import check_config
from alerts.enrich import Enricher
from alerts.metrics import NotifierMetrics
from alerts.notifier import DeliveryPolicy, Notifier
from alerts.retry import Backoff
from streams.codec import encode_event
from streams.health import Operations
from streams.logs import setup_logging
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id
from streams.settings import Settings, secret_values
from streams.zones import load_zones
from tests.component.test_health import FakeView
from tests.fakes import FakeSlackWebhook, FakeTelegram, FakeWebhookReceiver, Reply
from tests.fakes.clock import VirtualClock
from tests.support.brokers import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _keep_root_logger() -> Iterator[None]:
    """setup_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)

TELEGRAM_TOKEN = "555111:FAKE-telegram-token-q8Zr"
WEBHOOK_SECRET = "FAKE-hmac-secret-u2Lp"
SLACK_SECRET_PART = "FAKEslackSECRETpart9x"


def test_config_check_prints_the_effective_config_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TELEGRAM_TOKEN)
    config = tmp_path / "skyfence.toml"
    config.write_text('partitions = 6\nzones = ["dprk"]\n')
    monkeypatch.setenv("SKYFENCE_TELEGRAM_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("SKYFENCE_TELEGRAM_CHAT", "-1001")
    monkeypatch.setenv("SKYFENCE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    assert main(["--config", str(config), "config", "check"]) == 0
    out, err = capsys.readouterr()
    assert "SKYFENCE_PARTITIONS=6\n" in out and "SKYFENCE_TELEGRAM_TOKEN=<set>" in out
    assert "SKYFENCE_WEBHOOK_SECRET=<set>" in out and "configuration is valid" in out
    assert TELEGRAM_TOKEN not in out + err and WEBHOOK_SECRET not in out + err


@pytest.mark.parametrize(
    ("env", "files", "key"),
    [
        ({"SKYFENCE_PARTITIONS": "-3"}, {}, "SKYFENCE_PARTITIONS"),
        ({"SKYFENCE_ZONES": "nowhere"}, {}, "SKYFENCE_ZONES"),
        ({"SKYFENCE_ROUTING": "{routing}"}, {"routing": "[channels.a]\nkind = 'slack_webhook'\nurl_env = 'SKYFENCE_A_URL'\n[[rules]]\nname = 'r'\nchannels = ['a']\n"}, "SKYFENCE_A_URL"),
        ({"SKYFENCE_ROUTING": "{routing}"}, {"routing": "[[rules]]\nname = 'r'\nchannels = ['ghost']\n"}, "SKYFENCE_ROUTING"),
        ({"SKYFENCE_ROUTING": "{routing}", "SKYFENCE_A_URL_FILE": "/nonexistent/a"}, {"routing": "[channels.a]\nkind = 'slack_webhook'\nurl_env = 'SKYFENCE_A_URL'\n[[rules]]\nname = 'r'\nchannels = ['a']\n"}, "SKYFENCE_A_URL_FILE"),
        ({"SKYFENCE_TELEGRAM_TOKEN": TELEGRAM_TOKEN}, {}, "SKYFENCE_TELEGRAM_CHAT"),
        ({"SKYFENCE_WATCHLIST": "/nonexistent.csv"}, {}, "SKYFENCE_WATCHLIST"),
        ({"SKYFENCE_SLACK_WEBHOOK_URL_FILE": "/nonexistent/slack"}, {}, "SKYFENCE_SLACK_WEBHOOK_URL_FILE"),
    ],
)
def test_config_check_exits_2_naming_the_key(
    tmp_path: Path, env: dict[str, str], files: dict[str, str], key: str
) -> None:
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.toml"
        paths[name].write_text(text)
    env = {k: v.format(**{n: str(p) for n, p in paths.items()}) for k, v in env.items()}
    out, err = io.StringIO(), io.StringIO()
    assert check_config(env, out=out, err=err) == 2
    assert err.getvalue().startswith(f"skyfence config check: {key}"), err.getvalue()
    assert out.getvalue() == "" and TELEGRAM_TOKEN not in err.getvalue()


def _event() -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id("1551e0", "dprk", "entered", 1_700_000_000.0),
        type=EventType.ENTERED, icao24="1551e0", zone="dprk", ts=1_700_000_000.0,
        lat=40.1, lon=124.4, observed_ts=1_700_000_000.0, callsign="RSD352",
        confidence=Confidence.OBSERVED,
    )  # fmt: skip


class RawMessages(logging.Handler):
    """Every record's message and traceback as emitted, before any redaction filter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(logging.Formatter().format(record))


async def test_fake_tokens_appear_in_no_log_metric_probe_or_check_output() -> None:
    logs = io.StringIO()
    raw = RawMessages()
    # Telegram knows another token (401 for ours); Slack and the webhook fail, then refuse.
    async with (
        FakeTelegram(token="999:the-right-one") as telegram,
        FakeSlackWebhook([Reply(503, "busy"), FakeSlackWebhook.error(404, "no_service")]) as slack,
        FakeWebhookReceiver([Reply(500, "boom")] * 50) as hook,
    ):
        slack_url = slack.url + f"/services/T0/B0/{SLACK_SECRET_PART}"
        env = {
            "SKYFENCE_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "SKYFENCE_TELEGRAM_CHAT": telegram.chat_id,
            "SKYFENCE_TELEGRAM_API_URL": telegram.url, "SKYFENCE_SLACK_WEBHOOK_URL": slack_url,
            "SKYFENCE_WEBHOOK_URL": hook.hook_url, "SKYFENCE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SKYFENCE_CONSOLE": "false", "SKYFENCE_MAPS": "false",
        }  # fmt: skip
        settings = Settings.load(env)
        handler = setup_logging(
            verbose=True, log_format="json", stream=logs, secrets=secret_values(settings, env)
        )
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger().handlers.insert(0, raw)  # sees records before the filter
        try:
            clock = VirtualClock()
            registry = CollectorRegistry()
            zones = load_zones(["dprk"])
            async with aiohttp.ClientSession() as session:
                built = build_channels(
                    AlertSettings.from_env(env), session, Enricher(zones),
                    zone_ids=["dprk"], env=env,
                )  # fmt: skip
                notifier = Notifier(
                    built.channels, NotifierMetrics(registry), router=built.router,
                    policy=DeliveryPolicy(replay=True, backoff=Backoff(base_s=1.0, max_s=4.0, give_up_after_s=30.0)),
                    clock=clock.time, monotonic=clock.monotonic, sleep=clock.sleep, rand=lambda: 0.5,
                )  # fmt: skip
                await notifier.start()
                await notifier.handle(encode_event(_event()))
                assert await notifier.drain(20)
                await notifier.close()
            assert notifier.dead == 3  # every channel failed, was retried or refused
            ops = Operations(registry, [FakeView()], interval_s=3600.0)
            port = free_port()
            await ops.start("127.0.0.1", port)
            try:
                bodies = []
                async with aiohttp.ClientSession() as session:
                    for path in ("/metrics", "/healthz", "/readyz"):
                        async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                            bodies.append(await resp.text())
            finally:
                await ops.stop()
            checked_out, checked_err = io.StringIO(), io.StringIO()
            assert check_config(env, out=checked_out, err=checked_err) == 0
        finally:
            logging.getLogger().removeHandler(handler)
            logging.getLogger().removeHandler(raw)
    lines = logs.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    # Delivery attempts carry the event id and aircraft as fields.
    retried = [r for r in records if r.get("channel") and r.get("reason")]
    assert retried and all(r["event_id"] == _event().event_id and r["icao24"] == "1551e0" for r in retried)
    assert len(raw.texts) == len(lines) > 5
    texts = {
        "log lines": logs.getvalue(), "unfiltered log records": "\n".join(raw.texts),
        "metrics": generate_latest(registry).decode(), "endpoints": "\n".join(bodies),
        "config check": checked_out.getvalue() + checked_err.getvalue(),
        "settings repr": repr(settings),
    }  # fmt: skip
    for where, text in texts.items():
        for secret in (TELEGRAM_TOKEN, WEBHOOK_SECRET, SLACK_SECRET_PART, slack_url):
            assert secret not in text, f"{secret!r} leaked into {where}"


def test_the_log_filter_masks_a_secret_logged_by_mistake() -> None:
    out = io.StringIO()
    handler = setup_logging(log_format="text", stream=out, secrets=[TELEGRAM_TOKEN])
    try:
        logging.getLogger("careless").warning("calling https://api/bot%s/send", TELEGRAM_TOKEN)
        try:
            raise RuntimeError(f"failed on {TELEGRAM_TOKEN}")
        except RuntimeError:
            logging.getLogger("careless").exception("boom")
    finally:
        logging.getLogger().removeHandler(handler)
    text = out.getvalue()
    assert TELEGRAM_TOKEN not in text and "https://api/bot***/send" in text and "failed on ***" in text
