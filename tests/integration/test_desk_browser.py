"""The desk's live page in a real browser: headless Debian chromium driven by Playwright loads
the page, then the seed is replayed through embedded Tansu; the Il-62M's (1551e0) marker
appears inside ``dprk`` and its ``entered`` alert shows in the history without a reload, and
the page fetches nothing from any host but the worker. A screenshot is saved under
``test-artefacts/`` (``SKYFENCE_ARTEFACTS`` overrides)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from alerts.desk_http import DeskServer
from alerts.enrich import Enricher, open_enrichment
from alerts.runner import embedded_or_given_broker, start_pipeline, stop_within
from streams.config import StreamSettings
from streams.health import serve_operations
from streams.kafka_auth import client_kwargs
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from streams.zones import load_zones
from tests.support.brokers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "dprk-2023-09.jsonl.gz"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Installed before the page's own script: records every aircraft list entry that ever
#: appears (a full-speed replay can carry an aircraft in and out between two screenshots).
WATCH = """
window.__seen = [];
new MutationObserver(function (records) {
  records.forEach(function (r) {
    r.addedNodes.forEach(function (n) {
      if (n.nodeType !== 1) return;
      var items = n.matches && n.matches('li[data-icao]') ? [n] : Array.from(n.querySelectorAll ? n.querySelectorAll('li[data-icao]') : []);
      items.forEach(function (li) { window.__seen.push([li.dataset.icao, li.dataset.status, li.textContent]); });
      var paths = n.matches && n.matches('path.ac-marker') ? [n] : [];
      paths.forEach(function (p) { window.__seen.push(['marker', p.getAttribute('class'), '']); });
    });
  });
}).observe(document, { childList: true, subtree: true });
"""


def _artefacts() -> Path:
    path = Path(os.environ.get("SKYFENCE_ARTEFACTS", ROOT / "test-artefacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_live_page_shows_the_il62_entering_dprk_without_reload(tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.async_api", reason="pip dev extra playwright")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (make tools installs it)")
    from aiokafka import AIOKafkaProducer

    port = free_port()
    settings = StreamSettings(broker="", data_dir=str(tmp_path / "faust"))
    zones = load_zones(settings.zones)
    async with embedded_or_given_broker(settings) as (bootstrap, settings):
        pipeline = await start_pipeline(settings, bootstrap, [], role="tracker")
        # A desk watchlist with the Il-62M on it: the history's watchlist filter uses it.
        desk_csv = tmp_path / "desk.csv"
        desk_csv.write_text("icao24,category,tags\n1551e0,Government,\n")
        lists, _ = open_enrichment([f"desk={desk_csv}"])
        desk = DeskServer(zones)
        desk.attach(pipeline.bundle, enrich=Enricher(zones, watchlists=lists, images=False).enrich)
        ops = await serve_operations(
            pipeline.registry, [pipeline.bundle.app], "127.0.0.1", port, extensions=[desk.install]
        )
        base = f"http://127.0.0.1:{port}"
        hosts: list[str] = []
        try:
            async with playwright_api.async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    page = await browser.new_page(viewport={"width": 1100, "height": 1300})

                    async def watch(route: object, request: object) -> None:
                        hosts.append(urlsplit(request.url).netloc)  # type: ignore[attr-defined]
                        await route.continue_()  # type: ignore[attr-defined]

                    await page.route("**/*", watch)
                    await page.add_init_script(WATCH)
                    await page.goto(base + "/")
                    # A locator wait, not wait_for_function: its predicate is compiled with
                    # eval in the page, which the desk's CSP (script-src 'self') refuses.
                    await playwright_api.expect(page.locator("#conn")).to_have_text(
                        "live", timeout=20_000
                    )
                    navigations = []
                    page.on("framenavigated", lambda frame: navigations.append(frame.url))

                    producer = AIOKafkaProducer(
                        bootstrap_servers=bootstrap, linger_ms=5, **client_kwargs(settings)
                    )
                    await producer.start()
                    try:
                        await replay(
                            read_recording_raw(SEED),
                            PositionPublisher(producer, settings.positions_topic),
                        )
                    finally:
                        await producer.stop()

                    entered = page.locator(
                        "#history tbody tr[data-type=entered][data-icao='1551e0'][data-zone=dprk]"
                    )
                    await entered.first.wait_for(timeout=90_000)
                    seen = await page.evaluate("window.__seen")
                    assert any(
                        icao == "1551e0" and status == "inside" and "dprk" in text
                        for icao, status, text in seen
                    ), seen[:20]
                    assert any(
                        icao == "marker" and "ac-1551e0" in status and "status-inside" in status
                        for icao, status, _ in seen
                    )
                    assert navigations == []  # live: no reload
                    # Country/region outlines (packaged time-zone outlines) under the zones.
                    await page.locator("path.region-outline").first.wait_for(
                        state="attached", timeout=10_000
                    )
                    # The watchlist filter: the Il-62M is on the desk's list, so it stays.
                    await page.select_option("#f-watchlist", "desk")
                    assert await entered.count() >= 1
                    shown = await page.evaluate(
                        "Array.from(document.querySelectorAll('#history tbody tr'))"
                        ".map(function (tr) { return tr.dataset.icao; })"
                    )  # one snapshot: rows keep arriving while the replay runs
                    assert shown and set(shown) == {"1551e0"}, shown
                    await page.select_option("#f-watchlist", "")
                    await page.wait_for_timeout(1500)  # the next aircraft tick
                    await page.screenshot(
                        path=str(_artefacts() / "desk-live-page.png"), full_page=True
                    )
                    # Keyboard: the skip link, then tabbing reaches the aircraft's button.
                    await page.keyboard.press("Tab")
                    assert await page.evaluate("document.activeElement.className") == "skip"
                    for _ in range(40):
                        await page.keyboard.press("Tab")
                        if await page.evaluate(
                            "document.activeElement.matches('button.ac')"
                            " && document.activeElement.closest('li').dataset.icao === '1551e0'"
                        ):
                            break
                    else:
                        raise AssertionError("no aircraft button reachable by keyboard")
                    await page.keyboard.press("Enter")  # opens its visit timeline
                    timeline = page.locator("#timeline li")
                    await timeline.first.wait_for(timeout=5_000)
                    steps = await timeline.all_text_contents()
                    assert any("entered" in s for s in steps), steps
                    # A phone: nothing wider than the screen but the history's own scroller.
                    await page.set_viewport_size({"width": 390, "height": 844})
                    await page.wait_for_timeout(300)
                    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
                    await page.screenshot(path=str(_artefacts() / "desk-phone.png"))
                finally:
                    await browser.close()
        finally:
            await ops.stop()
            await stop_within(pipeline, 30)
    assert hosts and set(hosts) == {f"127.0.0.1:{port}"}, set(hosts)
