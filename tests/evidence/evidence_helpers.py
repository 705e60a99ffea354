"""Helpers shared by the evidence tests (imported by name: tests/evidence is on sys.path)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sqlalchemy import text

from fixtures_media import encode, make_image
from haechi.engine import Engine
from haechi.evidence.keys import KeyRing

KEK = bytes(range(32))
ORIGIN = "test.haechi/evidence"
_TABLES = ("evidence_case_items", "evidence_cases", "evidence_checkpoints", "evidence_log",
           "evidence_items", "evidence_blobs")


def keyring(*keys: bytes) -> KeyRing:
    return KeyRing(list(keys) or [KEK])


def kek_env(*keys: bytes) -> str:
    return ",".join(base64.b64encode(k).decode() for k in keys)


def wipe_evidence(engine: Engine) -> None:
    """The shared fixtures empty the core tables only; PostgreSQL keeps ours otherwise."""
    if engine.db.is_sqlite:
        return
    with engine.db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE evidence_log_head SET size = 0"))


def make_telegram_export(folder: Path, photos: int, *, size: tuple[int, int] = (64, 48),
                         seed: int = 0) -> Path:
    """A Telegram Desktop chat export with ``photos`` neutral pictures, a forwarded one,
    a text message, a service message and a file the exporter left out."""
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    messages: list[dict[str, object]] = [
        {"id": 1, "type": "service", "date": "2024-03-01T09:59:00",
         "date_unixtime": "1709287140", "actor": "Owner", "actor_id": "user1",
         "action": "create_group", "title": "Room", "members": ["Owner"], "text": ""},
        {"id": 2, "type": "message", "date": "2024-03-01T10:00:00",
         "date_unixtime": "1709287200", "from": "Alice", "from_id": "user111",
         "text": ["see ", {"type": "link", "text": "example.org"}],
         "text_entities": [{"type": "plain", "text": "see "},
                           {"type": "link", "text": "example.org"}]},
    ]
    for i in range(photos):
        rel = f"photos/photo_{i + 1}@01-03-2024_10-00-00.jpg"
        (folder / rel).write_bytes(encode(make_image(seed + i, size), "jpeg", quality=90))
        msg: dict[str, object] = {
            "id": 10 + i, "type": "message", "date": "2024-03-01T10:01:00",
            "date_unixtime": str(1709287260 + i), "from": f"Sender {i % 3}",
            "from_id": f"user{200 + i % 3}", "photo": rel, "photo_file_size": 1000,
            "width": size[0], "height": size[1], "text": f"picture {i}", "text_entities": []}
        if i == 0:
            msg["forwarded_from"] = "Some Channel"
        messages.append(msg)
    messages.append({"id": 9000, "type": "message", "date": "2024-03-01T11:00:00",
                     "date_unixtime": "1709290800", "from": "Bob", "from_id": "user333",
                     "file": "(File not included. Change data exporting settings to "
                             "download.)", "media_type": "video_file",
                     "mime_type": "video/mp4", "text": ""})
    export = {"name": "Test room", "type": "private_supergroup", "id": 777000111,
              "messages": messages}
    (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False, indent=1))
    return folder
