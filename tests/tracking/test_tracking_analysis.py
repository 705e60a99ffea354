"""Linking and analysis on the generated investigation (see scenario.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tracking_scenario import build_export

from haechi.engine import Engine
from haechi.tracking import TrackingService
from haechi.tracking.linking import MediaFacts, UnionFind, cluster_media
from haechi.tracking.schemas import Analysis


@pytest.fixture
def analysed(tracking: TrackingService, engine: Engine, tmp_path: Path) -> Analysis:
    built = build_export(tmp_path / "export")
    engine.create_bank("known")
    engine.add_media("known", built.item)
    tracking.ingest(built.folder)
    return tracking.analyse()


def test_reencoded_item_is_one_cluster_with_its_path(analysed: Analysis) -> None:
    top = analysed.clusters[0]
    assert top.flagged and len(top.media_ids) == 3
    assert "pdq<=31" in top.linked_by
    assert top.rooms == ["100", "200", "300"]
    assert top.patient_zero.user_key == "user1003" and not top.patient_zero.forwarded
    assert [(h.from_room, h.to_room, h.by_user) for h in top.path] == [
        ("지인능욕방", "relay", "user1004"), ("relay", "archive", "user1006")]
    assert [s.sent_at for s in top.timeline] == sorted(s.sent_at for s in top.timeline)
    # The other pictures are unrelated: one cluster each, none flagged.
    assert all(not c.flagged and len(c.media_ids) == 1 for c in analysed.clusters[1:])
    assert len(analysed.clusters) == 4


def test_solicitation_room_ranks_highest_with_its_messages(analysed: Analysis) -> None:
    first = analysed.rooms[0]
    assert first.chat_id == "100" and first.title == "지인능욕방"
    assert first.risk_score > analysed.rooms[1].risk_score
    assert {h.message_id for h in first.hits} == {2, 3, 6}
    terms = {t for h in first.hits for t in h.terms}
    assert {"지인능욕", "겹지인", "USDT", "할인", "10 photos"} <= terms
    assert any("matched a bank" in r for r in first.reasons)
    assert analysed.rooms[-1].chat_id == "400" and analysed.rooms[-1].risk_score == 0


def test_roles_with_reasons(analysed: Analysis) -> None:
    by_key = {u.user_key: u for u in analysed.users}
    assert by_key["user1003"].role == "producer"
    assert by_key["user1002"].role == "requester"
    assert by_key["user1004"].role == "distributor"
    assert by_key["user1006"].role == "distributor"
    assert by_key["user1009"].role == "participant"
    assert all(u.reasons for u in analysed.users if u.role != "participant")
    assert "2 unflagged photo" in by_key["user1002"].reasons[0]
    assert set(by_key["user1004"].rooms) == {"100", "200"}


def test_network_communities_and_key_players(analysed: Analysis) -> None:
    net = analysed.network
    assert net.nodes == 13 and net.largest_component_before == 10
    # The two accounts bridging rooms are the ones whose removal splits the network.
    assert [p.user_key for p in net.key_players[:2]] == ["user1004", "user1006"]
    assert net.key_players[0].largest_component_after < net.largest_component_before
    weather = next(c for c in net.communities if "r:400" in c)
    assert set(weather) == {"r:400", "u:user1008", "u:user1009"}


def test_analysis_is_deterministic(tracking: TrackingService, analysed: Analysis) -> None:
    again = tracking.analyse()
    assert again.network.communities == analysed.network.communities
    assert [c.id for c in again.clusters] == [c.id for c in analysed.clusters]


def test_union_find_joins_by_file_unique_id_and_keeps_smallest_id() -> None:
    clusters = cluster_media([MediaFacts(5, file_unique_ids={"f"}),
                              MediaFacts(2, file_unique_ids={"f", "g"}),
                              MediaFacts(9, file_unique_ids={"g"}), MediaFacts(7)])
    assert clusters.of == {5: 2, 2: 2, 9: 2, 7: 7}
    assert clusters.linked_by[2] == {"file_unique_id"}
    uf = UnionFind()
    assert uf.union(3, 1) and not uf.union(1, 3) and uf.find(3) == 1


def test_pdq_threshold_is_inclusive_at_31() -> None:
    base = "0" * 64
    near = format((1 << 31) - 1, "064x")  # 31 bits set
    far = format((1 << 32) - 1, "064x")  # 32 bits set
    clusters = cluster_media([MediaFacts(1, pdq=base, pdq_quality=100),
                              MediaFacts(2, pdq=near, pdq_quality=100),
                              MediaFacts(3, pdq=far, pdq_quality=100)])
    # 2 is 31 from 1; 3 is 32 from 1 but 1 from 2, so all three chain together.
    assert clusters.of[3] == 1
    apart = cluster_media([MediaFacts(1, pdq=base, pdq_quality=100),
                           MediaFacts(3, pdq=far, pdq_quality=100)])
    assert apart.of[3] == 3
    low = cluster_media([MediaFacts(1, pdq=base, pdq_quality=100),
                         MediaFacts(2, pdq=near, pdq_quality=10)])
    assert low.of[2] == 2  # quality under 50 never links


def _vpdq(hashes: list[str]) -> str:
    import json

    return json.dumps([f"{h},100,{i:.3f}" for i, h in enumerate(hashes)])


def test_videos_join_when_most_frames_match() -> None:
    frames = [format(i * 0x1111_1111_1111_1111, "064x")[-64:] for i in range(1, 6)]
    frames = [format((int(f, 16) * 2654435761) % (1 << 256), "064x") for f in frames]
    flipped = [format(int(f, 16) ^ 0b111, "064x") for f in frames]  # 3 bits off each
    other = [format((int(f, 16) * 40503 + 12345) % (1 << 256), "064x") for f in frames]
    clusters = cluster_media([MediaFacts(1, vpdq=_vpdq(frames)),
                              MediaFacts(2, vpdq=_vpdq(flipped[:4] + other[:1])),
                              MediaFacts(3, vpdq=_vpdq(other[1:]))])
    assert clusters.of[2] == 1 and clusters.linked_by[1] == {"vpdq"}
    assert clusters.of[3] == 3


def test_replies_join_users_in_the_network(tracking: TrackingService,
                                           analysed: Analysis) -> None:
    from haechi.tracking.analysis.network import build_graph
    from haechi.tracking.analysis.people import interactions, membership

    with tracking.engine.db.session() as s:
        edges = interactions(s)
        graph = build_graph(membership(s), edges)
    # user1001 replied to user1003's post in 지인능욕방.
    assert edges == {("user1001", "user1003"): 1}
    assert graph.has_edge("u:user1001", "u:user1003")
    assert analysed.network.edges == 12


def test_lexicon_file_rules_and_errors(tmp_path: Path) -> None:
    from haechi.errors import InvalidRequestError
    from haechi.tracking.analysis.lexicon import default_lexicon, load_lexicon

    hit = default_lexicon().match("겹지인 합성 해드림, 입장료 USDT, 20% discount")
    assert hit is not None
    assert set(hit.categories) == {"acquaintance", "synthesis", "entry_condition", "payment",
                                   "commerce"}
    assert default_lexicon().match("good morning, the weather is fine") is None
    custom = tmp_path / "lex.tsv"
    custom.write_text("# comment\n\nbait\t1.5\tfree\\s+gift\n", "utf-8")
    assert load_lexicon(custom).match("A FREE  gift") is not None
    for bad in ("only\ttwo\n", "x\tnot-a-number\ty\n", "x\t1\t(unclosed\n"):
        custom.write_text(bad, "utf-8")
        with pytest.raises(InvalidRequestError) as info:
            load_lexicon(custom)
        assert info.value.code == "bad_lexicon"


def test_desktop_forward_by_display_name_links_users(tracking: TrackingService,
                                                     tmp_path: Path) -> None:
    import json

    from haechi.tracking.analysis.people import interactions

    def msg(mid: int, user: str, name: str, **extra: object) -> dict[str, object]:
        return {"id": mid, "type": "message", "date": "2024-01-01T00:00:00",
                "from": name, "from_id": user, "text": "x", **extra}

    chat = {"name": "c", "type": "private_group", "id": 1, "messages": [
        msg(1, "user1", "Alice"), msg(2, "user2", "Bob", forwarded_from="Alice"),
        msg(3, "user3", "Sam"), msg(4, "user4", "Sam"),
        msg(5, "user2", "Bob", forwarded_from="Sam"),  # two people are called Sam
    ]}
    (tmp_path / "result.json").write_text(json.dumps(chat), "utf-8")
    tracking.ingest(tmp_path)
    with tracking.engine.db.session() as s:
        assert interactions(s) == {("user2", "user1"): 1}
