"""Chat commands and their permissions, the webhook's secret, and the records tracking
reads."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aiogram", reason="needs the telegram extra: pip install -e '.[telegram]'")

import aiohttp
from aiohttp import web
from sqlalchemy import select
from telegram_harness import GROUP_A, Harness, photo_message, text_message

from haechi.engine import Engine
from haechi.telegram.bot import SECRET_HEADER
from haechi.telegram.service import TelegramService
from haechi.telegram.store import TelegramStore
from haechi.tracking.models import TrackedMessage

ALICE, BOB, ADMIN = 7001, 7002, 7900


def _replies_to(standin: object, message_id: int) -> list[str]:
    return [m["text"] for m in standin.called("sendMessage")  # type: ignore[attr-defined]
            if (m.get("reply_parameters") or {}).get("message_id") == message_id]


def test_admin_commands_check_the_chat_administrators(engine: Engine,
                                                     known: list[bytes]) -> None:
    async def scenario() -> None:
        async with Harness(engine, admin_cache_s=3600) as h:
            s = h.standin
            s.admins[GROUP_A] = [ADMIN]
            posted = photo_message(GROUP_A, ALICE, 90, *s.add_file(known[0]))
            s.push(posted)
            s.push(text_message(GROUP_A, BOB, 91, "/haechi_status"))
            s.push(text_message(GROUP_A, ADMIN, 92, "/haechi_status"))
            s.push(text_message(GROUP_A, BOB, 93, "/haechi_report"))
            s.push(text_message(GROUP_A, BOB, 94, "/haechi_report spreading it",
                                reply_to_message=posted))
            bot = await h.new_bot()
            await h.drain(bot)
            assert "Only this chat's administrators" in _replies_to(s, 91)[0]
            assert "Posts checked: 1; removed: 1" in _replies_to(s, 92)[0]
            assert len(s.called("getChatAdministrators")) == 1  # cached for the second
            assert "Reply to the message" in _replies_to(s, 93)[0]
            assert "Report" in _replies_to(s, 94)[0]
            item_id = TelegramStore(engine.db).item_of_message(GROUP_A, 90)
            cases = engine.moderation.notices.cases()
            assert len(cases) == 1 and cases[0].item_id == item_id
            assert "spreading it" in cases[0].explanation

            s.push(text_message(GROUP_A, BOB, 95, f"/haechi_appeal {item_id} not mine"))
            s.push(text_message(GROUP_A, ALICE, 96, f"/haechi_appeal {item_id} it is art"))
            s.push(text_message(GROUP_A, ADMIN, 97, f"/haechi_appeal {item_id} again"))
            await h.drain(bot)
            assert "Only the person who posted it" in _replies_to(s, 95)[0]
            assert "Appeal" in _replies_to(s, 96)[0]
            assert "already has an open appeal" in _replies_to(s, 97)[0]
            appeals = engine.moderation.list_appeals()
            assert [(a.item_id, a.user_id) for a in appeals] == [(item_id, f"tg:{ALICE}")]

    asyncio.run(scenario())


def test_the_webhook_requires_the_secret_token(engine: Engine, known: list[bytes]) -> None:
    secret = "a-long-webhook-secret-value"

    async def scenario() -> None:
        async with Harness(engine, mode="webhook", webhook_secret=secret,
                           webhook_url="https://bot.example/telegram/webhook") as h:
            s = h.standin
            bot = await h.new_bot()
            await bot.register_webhook()
            assert s.called("setWebhook")[0]["secret_token"] == secret
            runner = web.AppRunner(bot.webhook_app())
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            update = {"update_id": 5001,
                      "message": photo_message(GROUP_A, ALICE, 98, *s.add_file(known[0]))}
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            try:
                async with aiohttp.ClientSession() as client:
                    async with client.post(url, json=update) as resp:
                        assert resp.status == 401
                    async with client.post(url, json=update,
                                           headers={SECRET_HEADER: "wrong"}) as resp:
                        assert resp.status == 401
                    assert s.called("deleteMessage") == []
                    for _ in range(2):  # Telegram may deliver twice: acted on once
                        async with client.post(url, json=update,
                                               headers={SECRET_HEADER: secret}) as resp:
                            assert resp.status == 200
            finally:
                await runner.cleanup()
            assert s.called("deleteMessage") == [{"chat_id": GROUP_A, "message_id": 98}]

    asyncio.run(scenario())


def test_kept_updates_feed_tracking(engine: Engine, neutral: bytes) -> None:
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            s.push(photo_message(GROUP_A, ALICE, 100, *s.add_file(neutral)))
            origin = {"type": "user", "date": 1763990000,
                      "sender_user": {"id": ALICE, "is_bot": False, "first_name": "a"}}
            s.push(photo_message(GROUP_A, BOB, 101, *s.add_file(neutral),
                                 forward_origin=origin, media_group_id="album1"))
            await h.drain(await h.new_bot())
            service = TelegramService(engine, h.settings)
            report = service.ingest_into_tracking()
            assert report.added == 2
            again = service.ingest_into_tracking()
            assert again.added == 0 and again.duplicates == 2
            with engine.db.session() as session:
                rows = list(session.scalars(select(TrackedMessage)
                                            .order_by(TrackedMessage.message_id)))
            assert [r.is_forward for r in rows] == [False, True]
            assert rows[1].fwd_user_key == f"user{ALICE}"
            assert rows[0].file_unique_id == rows[1].file_unique_id

    asyncio.run(scenario())


def test_chats_join_and_leave_the_guarded_set(engine: Engine) -> None:
    bot_user = {"id": 123456, "is_bot": True, "first_name": "Haechi"}

    def membership(update_id: int, old: str, new: str) -> dict[str, object]:
        return {"update_id": update_id, "my_chat_member": {
            "chat": {"id": -1003000000003, "type": "supergroup", "title": "new group"},
            "from": {"id": ADMIN, "is_bot": False, "first_name": "admin"},
            "date": 1764000000,
            "old_chat_member": {"status": old, "user": bot_user},
            "new_chat_member": {"status": new, "user": bot_user,
                                **({"until_date": 0} if new == "kicked" else {})}}}

    async def scenario() -> None:
        async with Harness(engine) as h:
            store = TelegramStore(engine.db)
            h.standin.push_raw(membership(3001, "left", "member"))
            bot = await h.new_bot()
            await h.drain(bot)
            assert store.chats() == [-1003000000003]
            h.standin.push_raw(membership(3002, "member", "kicked"))
            await h.drain(bot)
            assert store.chats() == []

    asyncio.run(scenario())
