"""A small generated investigation: four rooms, one item re-encoded and spread.

* "지인능욕방" (chat 100, the solicitation room): ``requester`` posts ordinary photos and
  asks for more with solicitation text; ``producer`` posts the item (seed 11), which a
  bank knows, as an original; other members chat.
* "relay" (chat 200): ``dist1``, a member of chat 100, forwards a JPEG re-encoding.
* "archive" (chat 300): ``dist2``, a member of chat 200, posts a resized copy forwarded
  from "relay".
* "weather" (chat 400): unrelated chat with an unrelated picture.

All pictures are neutral generated shapes (``fixtures_media``); all people are invented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fixtures_media import encode, jpeg_recompress, make_image, resize

ITEM_SEED = 11
START = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)
SOLICITATION = [
    "지인능욕 방 입장 조건: 겹지인 사진 10장 보내세요",
    "합성 의뢰 받습니다. USDT 결제, 오늘만 할인",
    "send 10 photos of a classmate to join, pay in BTC",
]


@dataclass
class Built:
    folder: Path
    item: bytes


def _at(minutes: int) -> tuple[str, str]:
    when = START + timedelta(minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M:%S"), str(int(when.timestamp()))


def _msg(mid: int, minutes: int, user: str, text: str = "", **extra: Any) -> dict[str, Any]:
    date, unix = _at(minutes)
    return {"id": mid, "type": "message", "date": date, "date_unixtime": unix,
            "from": user.title(), "from_id": user, "text": text, **extra}


def build_export(folder: Path) -> Built:
    """Write a Telegram Desktop full export (``result.json`` + photos/) into ``folder``."""
    photos = folder / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    item = make_image(ITEM_SEED, (640, 480))
    files = {
        "item.jpg": encode(item, "jpeg"),
        "item_reencoded.jpg": encode(jpeg_recompress(item, 40), "jpeg", quality=70),
        "item_resized.jpg": encode(resize(item, 0.75), "jpeg"),
        "friend1.jpg": encode(make_image(21, (640, 480)), "jpeg"),
        "friend2.jpg": encode(make_image(22, (640, 480)), "jpeg"),
        "weather.jpg": encode(make_image(31, (640, 480)), "jpeg"),
    }
    for name, data in files.items():
        (photos / name).write_bytes(data)
    room100 = [
        _msg(1, 0, "user1001", "안녕하세요"),
        _msg(2, 5, "user1002", SOLICITATION[0], photo="photos/friend1.jpg"),
        _msg(3, 6, "user1002", [SOLICITATION[1], {"type": "bold", "text": "!"}]),
        _msg(4, 7, "user1002", "", photo="photos/friend2.jpg"),
        _msg(5, 20, "user1003", "new one", photo="photos/item.jpg"),
        _msg(6, 21, "user1004", SOLICITATION[2]),
        _msg(7, 22, "user1001", "thanks", reply_to_message_id=5),
        {"id": 8, "type": "service", "date": _at(23)[0], "action": "join_group_by_link"},
    ]
    room200 = [
        _msg(1, 30, "user1005", "hi all"),
        _msg(2, 40, "user1004", "", photo="photos/item_reencoded.jpg",
             forwarded_from="지인능욕방"),
        _msg(3, 41, "user1006", "where is this from?"),
    ]
    room300 = [
        _msg(1, 60, "user1006", "", photo="photos/item_resized.jpg", forwarded_from="relay"),
        _msg(2, 61, "user1007", "ok"),
    ]
    room400 = [
        _msg(1, 10, "user1008", "rain tomorrow", photo="photos/weather.jpg"),
        _msg(2, 11, "user1009", "take an umbrella"),
    ]
    export = {
        "about": "generated for tests",
        "chats": {"about": "", "list": [
            {"name": "지인능욕방", "type": "private_group", "id": 100, "messages": room100},
            {"name": "relay", "type": "public_channel", "id": 200, "messages": room200},
            {"name": "archive", "type": "private_group", "id": 300, "messages": room300},
            {"name": "weather", "type": "private_group", "id": 400, "messages": room400},
        ]},
    }
    (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False), "utf-8")
    return Built(folder=folder, item=files["item.jpg"])


def bot_updates() -> list[dict[str, Any]]:
    """Bot API updates: one photo shared by file_unique_id across two chats."""
    def user(uid: int) -> dict[str, Any]:
        return {"id": uid, "is_bot": False, "first_name": f"Person{uid}"}

    photo = [{"file_id": "small", "file_unique_id": "AQADsmall", "width": 90, "height": 90},
             {"file_id": "big", "file_unique_id": "AQADbig", "width": 800, "height": 600}]
    unix = int(START.timestamp())
    return [
        {"update_id": 1, "message": {"message_id": 10, "date": unix, "from": user(1),
                                     "chat": {"id": -1001, "type": "supergroup",
                                              "title": "bot room"},
                                     "photo": photo, "caption": "딥페이크 팝니다"}},
        {"update_id": 2, "message": {"message_id": 3, "date": unix + 60, "from": user(2),
                                     "chat": {"id": -1002, "type": "supergroup",
                                              "title": "second room"},
                                     "photo": photo,
                                     "forward_origin": {"type": "chat", "date": unix,
                                                        "sender_chat": {"id": -1001,
                                                                        "title": "bot room",
                                                                        "type": "supergroup"}}}},
        {"update_id": 3, "message": {"message_id": 4, "date": unix + 90, "from": user(3),
                                     "chat": {"id": -1002, "type": "supergroup",
                                              "title": "second room"},
                                     "text": "nice", "reply_to_message": {"message_id": 3}}},
        {"update_id": 4, "message": {"message_id": 5, "date": unix + 120, "from": user(4),
                                     "chat": {"id": -1002, "type": "supergroup",
                                              "title": "second room"},
                                     "forward_origin": {"type": "hidden_user", "date": unix,
                                                        "sender_user_name": "Hidden"},
                                     "text": "forwarded words"}},
    ]
