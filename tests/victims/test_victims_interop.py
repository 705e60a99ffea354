"""Export with StopNCII's case and feedback states, and python-threatexchange lines that
the bank importer (and python-threatexchange) read back."""

from __future__ import annotations

import json
from collections.abc import Callable

from haechi.banks import formats
from haechi.engine import Engine
from haechi.victims import VictimsService
from haechi.victims.interop import request_from_threatexchange
from haechi.victims.schemas import CaseRequest, HashIn, ItemIn


def test_stopncii_states_and_threatexchange_lines(
        victims: VictimsService, engine: Engine, photo: Callable[[int], bytes],
        request_for: Callable[..., CaseRequest]) -> None:
    kept = victims.submit(request=request_for(photo(51)))
    video = CaseRequest(items=[ItemIn(kind="video", hashes=[HashIn(signal="md5",
                                                                   value="b" * 32)])])
    gone = victims.submit(request=video)
    victims.feedback(signal="md5", value="b" * 32, service="v.example", outcome="blocked")
    victims.feedback(signal="md5", value="b" * 32, service="w.example",
                     outcome="pending_review")
    victims.withdraw(number=gone.case_number, pin=gone.pin)

    cases = {c["caseNumber"]: c for c in map(json.loads, victims.export(fmt="stopncii"))}
    assert cases[kept.case_number]["status"] == "Active"
    assert {h["type"] for h in cases[kept.case_number]["hashes"]} == {"PDQ", "MD5"}
    assert cases[gone.case_number]["status"] == "Withdrawn"
    assert cases[gone.case_number]["feedback"] == {"Blocked": 1, "PendingReview": 1}

    lines = victims.export(fmt="threatexchange")
    assert sorted(line.split()[0] for line in lines) == ["md5", "pdq"]  # withdrawn: absent
    entries, errors = formats.parse_entries("".join(lines), "threatexchange")
    assert errors == [] and {e.signal for e in entries} == {"md5", "pdq"}

    again = victims.submit(request=request_from_threatexchange(
        "".join(lines) + "video_md5 " + "c" * 32 + "\n"))
    assert again.case.items == 3 and again.case.status == "active"
