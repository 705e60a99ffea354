"""Face alert (opt-in): only an embedding is kept; a face close to it in sexual content
alerts the case (PendingReview) even with no hash match; withdrawn cases stop alerting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from haechi.engine import Engine
from haechi.errors import InvalidRequestError
from haechi.victims import VictimsService
from haechi.victims.faces import FACE_THRESHOLD
from haechi.victims.schemas import CaseRequest

#: The shared data sets sit beside the repository (../shared/datasets).
UTKFACE = (Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "faces-real"
           / "utkface-adults")


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v)


def test_close_face_alerts_far_face_does_not(
        victims: VictimsService, photo: Callable[[int], bytes],
        request_for: Callable[..., CaseRequest]) -> None:
    receipt = victims.submit(request=request_for(photo(71)))
    ref = unit(1)
    victims.register_face(number=receipt.case_number, pin=receipt.pin, embedding=list(ref))
    near = ref + unit(2) * (FACE_THRESHOLD * 0.6)
    far = ref + unit(3) * (FACE_THRESHOLD * 1.5)
    assert victims.face_alert(embeddings=[list(far)], service="x") == []
    assert victims.face_alert(embeddings=[list(far), list(near)],
                              service="chat.example") == [receipt.case_number]
    view = victims.view(number=receipt.case_number, pin=receipt.pin)
    assert view.feedback == {"pending_review": 1} and view.blocked == 0
    assert [a.case_number for a in victims.alerts(organisation=None)] == [receipt.case_number]
    victims.withdraw(number=receipt.case_number, pin=receipt.pin)
    assert victims.face_alert(embeddings=[list(near)], service="x") == []


def test_embeddings_are_checked(victims: VictimsService, photo: Callable[[int], bytes],
                                request_for: Callable[..., CaseRequest]) -> None:
    receipt = victims.submit(request=request_for(photo(72)))
    for bad in ([0.1] * 127, [float("nan")] * 128):
        with pytest.raises(InvalidRequestError):
            victims.register_face(number=receipt.case_number, pin=receipt.pin, embedding=bad)
    assert victims.remove_faces(number=receipt.case_number, pin=receipt.pin) == 0


@pytest.mark.skipif(not UTKFACE.is_dir(), reason="needs the shared face set")
def test_selfie_embedding_matches_the_same_picture_recompressed() -> None:
    pytest.importorskip("dlib")
    from io import BytesIO

    from PIL import Image

    from haechi.samples import encode
    from haechi.victims.faces import embed_selfie

    selfie = sorted(UTKFACE.iterdir())[0].read_bytes()
    again = encode(Image.open(BytesIO(selfie)).convert("RGB"), "JPEG", quality=50)
    distance = np.linalg.norm(np.subtract(embed_selfie(selfie), embed_selfie(again)))
    assert distance < FACE_THRESHOLD


@pytest.mark.skipif(not UTKFACE.is_dir(), reason="needs the shared face set")
def test_cli_registers_the_embedding_not_the_photo(tmp_path: Path) -> None:
    pytest.importorskip("dlib")
    import json

    from sqlalchemy import select
    from test_victims_cli import run

    from haechi.engine import Engine
    from haechi.victims.models import VictimFace

    data, request = tmp_path / "data", tmp_path / "case.json"
    request.write_text(CaseRequest.model_validate({"items": [{"kind": "video", "hashes": [
        {"signal": "md5", "value": "d" * 32}]}]}).model_dump_json())
    receipt = json.loads(run(data, "open", str(request), "--json"))
    selfie = sorted(UTKFACE.iterdir())[1]
    out = run(data, "face", receipt["case_number"], str(selfie), "--pin", receipt["pin"])
    assert "the photo was not stored" in out
    with Engine(data_dir=data) as eng, eng.db.session() as s:
        (embedding,) = s.scalars(select(VictimFace.embedding)).all()
    assert len(embedding) == 128
    assert not any(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in data.rglob("*"))


@pytest.mark.skipif(not UTKFACE.is_dir(), reason="needs the shared face set")
def test_moderation_holds_sexual_content_showing_a_registered_face(
        engine: Engine, photo: Callable[[int], bytes],
        request_for: Callable[..., CaseRequest]) -> None:
    """The whole opt-in path: a victim registers her face from a selfie; an upload scored
    sexual (the score is supplied, as a platform's detector would: the repository holds
    no sexual imagery) that shows her face is held and her case alerted, with no hash
    match; the same score on another person's face is not held by this rule."""
    pytest.importorskip("dlib")
    from io import BytesIO

    from PIL import Image

    from haechi.samples import encode
    from haechi.victims.faces import embed_selfie

    people = sorted(UTKFACE.glob("*.jpg"))[:40:13]
    selfie, other = people[0].read_bytes(), people[1].read_bytes()
    case = engine.victims.submit(request=request_for(photo(73)))
    engine.victims.register_face(number=case.case_number, pin=case.pin,
                                 embedding=embed_selfie(selfie))
    upscaled = Image.open(BytesIO(selfie)).convert("RGB").resize((400, 400))
    upload = encode(upscaled, "JPEG", quality=70)
    held = engine.moderation.moderate_upload(upload, user_id="u1", room_id="r1",
                                             detections={"sexual": 0.95}, service="chat")
    assert held.decision.action == "hold" and held.decision.rule == "victim-face-alert"
    view = engine.victims.view(number=case.case_number, pin=case.pin)
    assert view.feedback == {"pending_review": 1}
    other_up = encode(Image.open(BytesIO(other)).convert("RGB").resize((400, 400)), "JPEG")
    passed = engine.moderation.moderate_upload(other_up, user_id="u2", room_id="r1",
                                               detections={"sexual": 0.95}, service="chat")
    assert passed.decision.rule != "victim-face-alert"
