"""The HTML report, the roster and the push into a bank."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from tracking_scenario import build_export

from haechi.engine import Engine
from haechi.errors import NotFoundError
from haechi.tracking import TrackingService
from haechi.tracking.report.roster import COLUMNS
from haechi.tracking.schemas import Analysis


@pytest.fixture
def analysed(tracking: TrackingService, engine: Engine, tmp_path: Path) -> Analysis:
    built = build_export(tmp_path / "export")
    engine.create_bank("known")
    engine.add_media("known", built.item)
    tracking.ingest(built.folder)
    return tracking.analyse()


def test_html_report_is_self_contained_and_complete(tracking: TrackingService,
                                                    analysed: Analysis) -> None:
    page = tracking.report_html(analysis=analysed, title="Case <7>")
    assert "<title>Case &lt;7&gt;</title>" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # Nothing is fetched: no external sources, stylesheets or scripts by URL.
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page)
    assert "<link" not in page
    assert page.count("<svg") >= 2  # the timeline plot and the network view
    for expected in ("지인능욕방", "relay", "archive", "user1003", "producer", "requester",
                     "겹지인", "photos/item_reencoded.jpg"):
        assert expected in page
    # Chat text is escaped, never markup.
    assert "<script>alert" not in page


def test_report_escapes_hostile_names(tracking: TrackingService, engine: Engine,
                                      tmp_path: Path) -> None:
    log = tmp_path / "x.csv"
    log.write_text("time,room,user,text,room_title\n"
                   "2024-01-01T00:00:00Z,r1,u1,<script>alert(1)</script> 지인능욕,"
                   "</script><script>alert(2)</script>\n", "utf-8")
    tracking.ingest(log)
    page = tracking.report_html()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_roster_per_room_and_per_community(tracking: TrackingService,
                                           analysed: Analysis) -> None:
    rows = list(csv.DictReader(io.StringIO("".join(tracking.roster_csv(analysis=analysed)))))
    assert len(rows) == 9 and tuple(rows[0]) == COLUMNS
    room = list(csv.DictReader(io.StringIO("".join(
        tracking.roster_csv(analysis=analysed, room="100")))))
    assert {r["user_key"]: r["role"] for r in room} == {
        "user1001": "participant", "user1002": "requester", "user1003": "producer",
        "user1004": "distributor"}
    assert all(r["reasons"] for r in room if r["role"] != "participant")
    weather = next(i for i, c in enumerate(analysed.network.communities) if "r:400" in c)
    members = list(csv.DictReader(io.StringIO("".join(
        tracking.roster_csv(analysis=analysed, community=weather)))))
    assert {r["user_key"] for r in members} == {"user1008", "user1009"}
    with pytest.raises(NotFoundError):
        list(tracking.roster_csv(analysis=analysed, room="nope"))
    with pytest.raises(NotFoundError):
        list(tracking.roster_csv(analysis=analysed, community=99))


def test_roster_defuses_spreadsheet_formulas(tracking: TrackingService, tmp_path: Path) -> None:
    log = tmp_path / "x.csv"
    log.write_text("time,room,user,user_name\n2024-01-01T00:00:00Z,r1,=HYPERLINK(1),@evil\n",
                   "utf-8")
    tracking.ingest(log)
    text = "".join(tracking.roster_csv())
    assert "'=HYPERLINK(1)" in text and "'@evil" in text


def test_push_flagged_clusters_to_a_new_bank(tracking: TrackingService, engine: Engine,
                                             analysed: Analysis, tmp_path: Path) -> None:
    pushed = tracking.push_to_bank(bank="from-tracking", create=True, analysis=analysed)
    # One flagged cluster of three files: sha256 + md5 + pdq each.
    assert (pushed.clusters, pushed.added, pushed.duplicates) == (1, 9, 0)
    entries, total = engine.list_entries("from-tracking", limit=100)
    assert total == 9 and {e.external_id for e in entries} == {"cluster-3"}
    again = tracking.push_to_bank(bank="from-tracking")
    assert (again.added, again.duplicates) == (0, 9)
    # The resized copy now matches the new bank exactly.
    data = (tmp_path / "export" / "photos" / "item_resized.jpg").read_bytes()
    result = engine.scan_bytes(data)
    assert result.decision == "block"
    assert "from-tracking" in {m.bank for m in result.matches}
    with pytest.raises(NotFoundError):
        tracking.push_to_bank(bank="missing")


def test_media_named_like_a_script_url_is_not_linked(tracking: TrackingService,
                                                     tmp_path: Path) -> None:
    from fixtures_media import encode, make_image

    (tmp_path / "javascript:alert(1).png").write_bytes(encode(make_image(3), "png"))
    (tmp_path / "ok file.png").write_bytes(encode(make_image(4), "png"))
    log = tmp_path / "x.csv"
    log.write_text("time,room,user,media\n"
                   "2024-01-01T00:00:00Z,r1,u1,javascript:alert(1).png\n"
                   "2024-01-01T00:01:00Z,r1,u1,ok file.png\n", "utf-8")
    tracking.ingest(log)
    page = tracking.report_html()
    assert "href='javascript" not in page
    assert "<li>javascript:alert(1).png</li>" in page
    assert "href='ok%20file.png'" in page
