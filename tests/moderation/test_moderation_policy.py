"""The policy language: validation errors that name line and field, and the default
policy's decisions from bank matches and explicitly supplied detector scores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haechi.errors import InvalidRequestError
from haechi.moderation import PolicyError, PolicyInput, load_policy, parse_policy
from haechi.moderation.service import check_detections
from haechi.results import EntryInfo, Match

DEEPFAKE = {"sexual": 0.95, "real_face": 0.9, "synthetic": 0.9}


def match(kind: str = "block", bank: str = "known", category: str = "") -> Match:
    entry = EntryInfo(id=7, bank=bank, signal="pdq", signal_version=1, value="0" * 64,
                      quality=100, enabled=True, added_at=datetime.now(UTC), category=category)
    return Match(bank=bank, bank_kind=kind, entry_id=7, signal="pdq", distance=4,
                 threshold=31, entry=entry)  # type: ignore[arg-type]


def test_default_policy_blocks_known_bank_matches() -> None:
    d = load_policy().evaluate(PolicyInput(matches=[match()], media_kind="image"))
    assert (d.action, d.rule, d.category) == ("block", "known-bank-match", "known_abusive_media")
    assert d.strike_weight == 1
    assert "bank 'known' entry 7 matched by pdq (distance 4)" in d.reason


def test_default_policy_holds_sexual_real_face_synthetic_with_high_priority() -> None:
    d = load_policy().evaluate(PolicyInput(detections=DEEPFAKE, media_kind="image"))
    assert (d.action, d.rule) == ("hold", "synthetic-sexual-real-face")
    assert d.review_priority == 500 and d.synthetic and d.strike_weight == 0
    assert "real_face score 0.90 >= 0.5" in d.reason
    # the lower-priority age-gate rule matched too and is recorded, but did not fire
    assert d.matched_rules == ["synthetic-sexual-real-face", "sexual-content"]


def test_possible_minor_is_held_at_top_priority_and_is_severe() -> None:
    d = load_policy().evaluate(PolicyInput(detections={**DEEPFAKE, "minor": 0.7}))
    assert (d.action, d.rule, d.review_priority, d.severe) == (
        "hold", "possible-minor", 1000, True)


def test_known_match_still_blocks_when_detectors_also_fire() -> None:
    d = load_policy().evaluate(PolicyInput(matches=[match()], detections=DEEPFAKE))
    assert d.action == "block"


def test_allow_list_overrides_a_block_match() -> None:
    d = load_policy().evaluate(PolicyInput(matches=[match(), match("allow", "ok")]))
    assert (d.action, d.rule) == ("allow", "allow-listed")


def test_missing_scores_never_hold_and_the_reason_says_so() -> None:
    d = load_policy().evaluate(PolicyInput(detections={"sexual": 0.95, "synthetic": 0.9}))
    assert d.action == "restrict"  # sexual alone: age-gated, not held without a face score
    d = load_policy().evaluate(PolicyInput())
    assert (d.action, d.rule) == ("allow", "")
    assert "scores not supplied: minor, real_face, sexual, synthetic" in d.reason


def test_unscannable_upload_is_held() -> None:
    d = load_policy().evaluate(PolicyInput(scan_error="corrupt"))
    assert (d.action, d.rule) == ("hold", "unscannable")
    assert "could not be scanned (corrupt)" in d.reason


def test_priority_ties_go_to_the_stricter_action() -> None:
    p = parse_policy("""
rules:
  - {name: lenient, when: {always: true}, action: allow, priority: 5}
  - {name: strict, when: {always: true}, action: block, priority: 5}
""")
    d = p.evaluate(PolicyInput())
    assert d.rule == "strict" and d.matched_rules == ["strict", "lenient"]


def test_any_and_max_scores() -> None:
    p = parse_policy("""
rules:
  - name: either
    when:
      max_scores: {synthetic: 0.2}
      any:
        - min_scores: {a: 0.5}
        - bank_match: {kind: block, categories: [ncii]}
    action: restrict
""")
    assert p.evaluate(PolicyInput(detections={"synthetic": 0.1, "a": 0.6})).rule == "either"
    assert p.evaluate(PolicyInput(detections={"synthetic": 0.1},
                                  matches=[match(category="ncii")])).rule == "either"
    assert p.evaluate(PolicyInput(detections={"synthetic": 0.1},
                                  matches=[match(category="other")])).rule == ""
    assert p.evaluate(PolicyInput(detections={"synthetic": 0.3, "a": 0.9})).rule == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("rules:\n  - name: a\n    when: {always: true}\n    action: delete\n",
     "line 4: rules[0].action: Input should be 'block', 'hold', 'restrict' or 'allow'"),
    ("version: 1\nrules:\n  - name: a\n    when:\n      min_scores: {sexual: high}\n"
     "    action: block\n",
     "line 5: rules[0].when.min_scores.sexual: Input should be a valid number"),
    ("rules:\n  - name: a\n    when: {}\n    action: block\n",
     "line 3: rules[0].when: Value error, a condition needs at least one test"),
    ("rules:\n  - name: a\n    when: {always: true}\n    action: block\n    colour: red\n",
     "line 5: rules[0].colour: Extra inputs are not permitted"),
    ("rules:\n  - {name: a, when: {always: true}, action: block}\n"
     "  - {name: a, when: {always: true}, action: allow}\n",
     "two rules are named 'a'"),
    ("rules: [\n  {name: a\n", "line 3: not valid YAML"),
    ("rules: []\n", "line 1: rules: List should have at least 1 item"),
    ("- just a list\n", "a policy is a mapping with 'rules'"),
])
def test_invalid_policies_name_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="p.yaml")
    assert info.value.code == "invalid_policy"
    assert info.value.message.startswith("p.yaml: ")
    assert expected in info.value.message


def test_unreadable_policy_file(tmp_path: object) -> None:
    from pathlib import Path
    with pytest.raises(PolicyError) as info:
        load_policy(Path(str(tmp_path)) / "missing.yaml")
    assert info.value.code == "policy_unreadable"


@pytest.mark.parametrize("bad", [{"sexual": 1.5}, {"sexual": float("nan")}, {"": 0.5},
                                 {"sexual": True}, {"x" * 51: 0.1}])
def test_detection_scores_are_checked(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidRequestError):
        check_detections(bad)
