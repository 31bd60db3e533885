"""``skyfence demo`` end to end, as a user runs it: embedded Tansu, worker, seed replay."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from alerts.runner import demo
from streams.config import StreamSettings
from tests.conftest import SEED_SCENARIO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_demo_prints_the_seed_story(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = StreamSettings(broker="", data_dir=str(tmp_path / "faust"))
    assert await demo(settings, SEED_SCENARIO, timeout_s=150, out=out) == 0
    text = out.getvalue()
    alerts = [line for line in text.splitlines() if line.startswith("ALERT")]
    assert any(re.search(r"2023-09-26 \S+\s+ENTERED\s+dprk\s+RSD352\s+1551e0", a) for a in alerts)
    assert any(re.search(r"2023-09-28 \S+\s+EXITED\s+dprk\s+RSD352\s+1551e0", a) for a in alerts)
    assert any(re.search(r"ENTERED\s+dprk\s+CCA121", a) for a in alerts)  # Air China
    assert any(re.search(r"ENTERED\s+dprk\s+KOR152", a) for a in alerts)  # Air Koryo
    summary = next(line for line in text.splitlines() if line.startswith("-- summary"))
    replayed = re.search(r"(\d+) positions replayed, (\d+) processed", summary)
    assert replayed is not None and replayed[1] == replayed[2] and int(replayed[1]) > 38_000
    first = re.search(r"first alert ([\d.]+) s after the broker started", text)
    assert first is not None  # the 20 s budget is checked by the benchmark, not here


async def test_demo_delivers_to_slack_and_telegram_once_each(tmp_path: Path) -> None:
    """`skyfence demo --slack-webhook URL --telegram-token T --telegram-chat C
    --telegram-api-url U`: every non-forecast event reaches each desk channel once, Telegram
    with its map; the console still shows everything."""
    from alerts.config import SLACK_WEBHOOK_ENV, TELEGRAM_TOKEN_ENV, AlertSettings
    from alerts.secrets import Secret
    from tests.conftest import SEED_GOLDEN
    from tests.fakes import FakeSlackWebhook, FakeTelegram, accepted_event_ids

    want = sorted(
        line.split(b'"event_id":"')[1][:20].decode()
        for line in SEED_GOLDEN.read_bytes().splitlines()
        if b'"type":"approaching"' not in line
    )
    out = io.StringIO()
    async with FakeSlackWebhook() as slack, FakeTelegram(chat_id="424242") as telegram:
        settings = StreamSettings(broker="", data_dir=str(tmp_path / "faust"))
        alert_settings = AlertSettings(telegram_chat=telegram.chat_id, telegram_api_url=telegram.url)
        secrets = {SLACK_WEBHOOK_ENV: Secret(slack.webhook_url), TELEGRAM_TOKEN_ENV: Secret(telegram.token)}
        code = await demo(
            settings, SEED_SCENARIO, timeout_s=150, out=out, alert_settings=alert_settings,
            secrets=secrets, maps_dir=tmp_path / "maps",
        )  # fmt: skip
    text = out.getvalue()
    assert code == 0, text
    assert sorted(accepted_event_ids(slack)) == want
    assert sorted(accepted_event_ids(telegram, "sendPhoto")) == want
    photo = telegram.routed("sendPhoto")[0].files["photo"]
    assert photo.content_type == "image/png" and photo.data.startswith(b"\x89PNG")
    assert "channels slack, telegram, console" in text
    assert len([line for line in text.splitlines() if line.startswith("ALERT")]) == 25
    assert "| 🚨 RSD352 entered DPRK airspace" in text and "KST (UTC+09:00)" in text
    assert len(list((tmp_path / "maps").glob("*.png"))) == 9
    assert slack.webhook_url not in text and telegram.token not in text
