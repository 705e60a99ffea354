"""The HTML report in a real browser: the network view draws, nothing is fetched.

Needs Playwright (pip) and Debian's chromium; skipped where either is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tracking_scenario import build_export

from browser_support import launched, missing_browser
from haechi.engine import Engine
from haechi.tracking import TrackingService


@pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser()))
def test_report_renders_offline(tmp_path: Path) -> None:
    eng = Engine(data_dir=tmp_path / "data")
    try:
        built = build_export(tmp_path / "export")
        eng.create_bank("known")
        eng.add_media("known", built.item)
        tracking = TrackingService(eng)
        tracking.ingest(built.folder)
        page_path = tmp_path / "report.html"
        page_path.write_text(tracking.report_html(), "utf-8")
    finally:
        eng.close()
    requests: list[str] = []
    errors: list[str] = []
    with launched() as browser:
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_path.as_uri())
        drawn = page.eval_on_selector("#network", "svg => svg.querySelectorAll('circle, rect,"
                                      " line').length")
    assert errors == []
    assert requests == [page_path.as_uri()]  # the page itself, nothing else
    assert drawn >= 13 + 11  # every node and edge of the scenario's network
