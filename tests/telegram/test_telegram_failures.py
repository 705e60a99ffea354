"""Crashes, restarts, rate limits, network failures, oversize and hostile input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("aiogram", reason="needs the telegram extra: pip install -e '.[telegram]'")

from aiogram.exceptions import TelegramRetryAfter
from telegram_harness import DATE, GROUP_A, Harness, chat, file_message, photo_message, user

from haechi.engine import Engine
from haechi.telegram.store import TelegramStore

ALICE = 7001


def _crash_once(target: object, name: str) -> list[int]:
    """Make ``target.name`` raise on its first call (the process dies there)."""
    real = getattr(target, name)
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    setattr(target, name, failing)
    return calls


@pytest.mark.parametrize("crash_at", ["finish_update", "set_item"])
def test_a_restart_neither_misses_nor_repeats_an_action(engine: Engine, known: list[bytes],
                                                        crash_at: str) -> None:
    """Killed after acting but before the offset was stored (or right after moderation,
    before the item was linked): the restarted bot sees the updates again and acts on
    each exactly once."""
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            for n, data in enumerate(known[:3]):
                s.push(photo_message(GROUP_A, ALICE + n, 50 + n, *s.add_file(data)))
            first = await h.new_bot()
            first_id = s.updates[0]["update_id"]
            await first.handle_raw(s.updates[0])  # the first update completes
            _crash_once(first.store, crash_at)
            with pytest.raises(RuntimeError, match="killed"):
                await h.drain(first)
            restarted = await h.new_bot()
            assert restarted.offset == first_id
            await h.drain(restarted)
            deletes = [(m["chat_id"], m["message_id"]) for m in s.called("deleteMessage")]
            assert sorted(deletes) == [(GROUP_A, 50), (GROUP_A, 51), (GROUP_A, 52)]
            warns = [m for m in s.called("sendMessage") if m["chat_id"] == GROUP_A]
            assert len(warns) == 3
            for n in range(3):
                strikes = engine.moderation.strikes(user_id=f"tg:{ALICE + n}")
                assert len(strikes) == 1
            store = TelegramStore(engine.db)
            assert store.counts() == {"done": 3, "decision:block": 3}
            assert all(state == "done" for *_, state in store.actions())

    asyncio.run(scenario())


def test_a_cancelled_polling_task_resumes_where_it_stopped(engine: Engine,
                                                           known: list[bytes]) -> None:
    """The running bot, its events-feed loop polling as fast as it can beside it (no
    event may slip past before its message is linked), cancelled and started again."""
    async def scenario() -> None:
        async with Harness(engine, events_interval_s=0.001) as h:
            s = h.standin
            for n in range(3):
                s.push(photo_message(GROUP_A, ALICE + n, 60 + n, *s.add_file(known[n])))
            first = await h.new_bot()
            task = asyncio.create_task(first.run_polling())
            while len(s.deleted) < 3:
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            s.push(photo_message(GROUP_A, ALICE + 5, 65, *s.add_file(known[1])))
            restarted = await h.new_bot()
            await h.drain(restarted)
            deleted = sorted(m["message_id"] for m in s.called("deleteMessage"))
            assert deleted == [60, 61, 62, 65]
            warned = sorted(m["reply_parameters"]["message_id"]
                            for m in s.called("sendMessage") if m["chat_id"] == GROUP_A)
            assert warned == [60, 61, 62, 65]

    asyncio.run(scenario())


def test_429_retry_after_is_respected(engine: Engine, known: list[bytes]) -> None:
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            s.faults["deleteMessage"] = [("429", 3)]
            s.faults["getUpdates"] = [("drop", 0)]
            s.push(photo_message(GROUP_A, ALICE, 70, *s.add_file(known[0])))
            bot = await h.new_bot()
            await h.drain(bot)
            assert len(s.called("deleteMessage")) == 2  # refused once, then done
            assert (GROUP_A, 70) in s.deleted
            waits = h.retries[-1].waits
            assert ("deleteMessage", 3.0) in waits
            assert any(method == "getUpdates" for method, _ in waits)  # network retry
            assert all(state == "done" for *_, state in TelegramStore(engine.db).actions())

    asyncio.run(scenario())


def test_media_over_the_download_limit_is_reported(engine: Engine, neutral: bytes) -> None:
    async def scenario() -> None:
        async with Harness(engine, max_download_bytes=5000, report_chat_id=-100999) as h:
            s = h.standin
            video = {"file_id": "BAAC-big", "file_unique_id": "AgADbig", "width": 640,
                     "height": 360, "duration": 600, "mime_type": "video/mp4",
                     "file_size": 300 * 1024 * 1024}
            s.push(file_message(GROUP_A, ALICE, 80, "video", video))
            # A document declaring no size whose server lies about it: the download
            # itself stops at the limit.
            file_id, unique = s.add_file(neutral + b"\0" * 6000)
            s.reported_sizes[file_id] = 10
            s.push(file_message(GROUP_A, ALICE, 81, "document",
                                {"file_id": file_id, "file_unique_id": unique,
                                 "mime_type": "image/jpeg", "file_name": "a.jpg"}))
            bot = await h.new_bot()
            await h.drain(bot)
            assert [p["file_id"] for p in s.called("getFile")] == [file_id]
            reports = [m for m in s.called("sendMessage") if "larger than" in m["text"]]
            assert {m["chat_id"] for m in reports} == {GROUP_A, -100999}
            assert len(reports) == 4
            codes = [c for _, c, _ in TelegramStore(engine.db).errors()]
            assert codes == ["too_large", "too_large"]
            assert s.called("deleteMessage") == []

    asyncio.run(scenario())


def test_hostile_input_is_recorded_and_the_bot_keeps_going(engine: Engine,
                                                            known: list[bytes]) -> None:
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            s.push_raw({"update_id": 2001, "message": {"message_id": 1, "date": DATE}})
            s.push_raw({"update_id": 2002, "message": {"message_id": 2, "date": "yesterday",
                                                       "chat": "nope"}})
            s.push_raw({"update_id": 2003, "a_future_update_kind": {"x": 1}})
            s.push_raw({"update_id": 2004, "message": file_message(
                GROUP_A, ALICE, 3, "document",
                {"file_id": "BQAC-pdf", "file_unique_id": "AgADpdf",
                 "mime_type": "application/pdf", "file_name": "notes.pdf"})})
            s.push_raw({"update_id": 2005, "message": file_message(
                GROUP_A, ALICE, 4, "document",
                {"file_id": "BQAC-huge", "file_unique_id": "AgADhuge",
                 "mime_type": "image/png", "file_size": 10 ** 15})})
            s.push_raw({"update_id": 2006, "message": {
                "message_id": 5, "date": DATE, "chat": chat(GROUP_A), "from": user(ALICE),
                "photo": "not a list"}})
            s.push_raw({"update_id": 2008, "message": photo_message(
                10 ** 30, ALICE, 7, "AgAC-x", "AgADx", size=10 ** 30)})
            file_id, unique = s.add_file(known[0])
            s.push_raw({"update_id": 2009,
                        "message": photo_message(GROUP_A, ALICE, 6, file_id, unique)})
            bot = await h.new_bot()
            await h.drain(bot)
            assert bot.offset == 2009
            errors = {u: c for u, c, _ in TelegramStore(engine.db).errors()}
            assert errors[2001] == errors[2002] == "malformed_update"
            assert errors[2003] == "unknown_update_type"
            assert errors[2004] == "not_media"
            assert errors[2005] == "too_large"
            assert errors[2006] in ("malformed_update", "bad_media_field")
            assert errors[2008] == "malformed_update"  # ids beyond 64 bits
            assert s.called("getFile") == [{"file_id": file_id}]
            assert (GROUP_A, 6) in s.deleted  # the valid update after them still acted on

    asyncio.run(scenario())


def test_a_429_longer_than_allowed_fails_the_update_which_is_retried(
        engine: Engine, known: list[bytes]) -> None:
    async def scenario() -> None:
        async with Harness(engine, max_retry_after_s=5) as h:
            s = h.standin
            s.faults["sendMessage"] = [("429", 100)]
            s.push(photo_message(GROUP_A, ALICE, 75, *s.add_file(known[0])))
            bot = await h.new_bot()
            with pytest.raises(TelegramRetryAfter):
                await h.drain(bot)
            assert bot.offset == 0  # not finished: Telegram will send it again
            await h.drain(bot)
            warns = [m for m in s.called("sendMessage") if m["chat_id"] == GROUP_A]
            assert len(warns) == 2  # the refused attempt, then the one that went through
            assert len(s.called("deleteMessage")) == 1
            assert all(wait <= 5 for _, wait in h.retries[-1].waits)
            assert all(state == "done" for *_, state in TelegramStore(engine.db).actions())

    asyncio.run(scenario())
