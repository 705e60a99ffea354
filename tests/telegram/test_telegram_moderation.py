"""The bot against the stand-in: known media removed, senders warned and banned,
re-posts caught by file_unique_id, reviewers' decisions carried back."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aiogram", reason="needs the telegram extra: pip install -e '.[telegram]'")

from telegram_harness import GROUP_A, GROUP_B, Harness, photo_message

from haechi.engine import Engine
from haechi.moderation.enforcement import WARNING_TEXT
from haechi.telegram.store import TelegramStore

ALICE, BOB = 7001, 7002


def test_known_image_is_deleted_and_the_sender_warned(engine: Engine,
                                                      known: list[bytes]) -> None:
    async def scenario() -> None:
        async with Harness(engine) as h:
            file_id, unique = h.standin.add_file(known[0])
            h.standin.push(photo_message(GROUP_A, ALICE, 10, file_id, unique))
            bot = await h.new_bot()
            await h.drain(bot)
            s = h.standin
            assert s.called("deleteMessage") == [{"chat_id": GROUP_A, "message_id": 10}]
            in_chat = [m for m in s.called("sendMessage") if m["chat_id"] == GROUP_A]
            private = [m for m in s.called("sendMessage") if m["chat_id"] == ALICE]
            assert len(in_chat) == 1 and len(private) == 1
            assert WARNING_TEXT in in_chat[0]["text"].replace("&#x27;", "'")
            assert in_chat[0]["reply_parameters"]["message_id"] == 10
            assert in_chat[0]["reply_parameters"]["allow_sending_without_reply"] is True
            assert "permanent removal" in private[0]["text"]
            assert s.called("banChatMember") == []
            # The update and its outcome are kept; the offset moved past it.
            store = TelegramStore(engine.db)
            assert store.counts() == {"done": 1, "decision:block": 1}
            assert store.state(bot.bot_id)[0] == bot.offset > 0

    asyncio.run(scenario())


def test_third_offence_bans_the_sender_from_every_guarded_group(
        engine: Engine, known: list[bytes], neutral: bytes) -> None:
    """The default policy: a bank match strikes 1, three strikes ban platform-wide."""
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            ids = [s.add_file(data) for data in known]
            harmless = s.add_file(neutral)
            s.push(photo_message(GROUP_B, BOB, 1, *harmless))  # Bob's post: B is guarded
            s.push(photo_message(GROUP_A, ALICE, 11, *ids[0]))
            s.push(photo_message(GROUP_B, ALICE, 12, *ids[1]))
            bot = await h.new_bot()
            await h.drain(bot)
            assert s.called("banChatMember") == []
            assert engine.moderation.get_user(user_id=f"tg:{ALICE}").active_strike_weight == 2
            s.push(photo_message(GROUP_A, ALICE, 13, *ids[2]))
            await h.drain(bot)
            bans = s.called("banChatMember")
            assert sorted(b["chat_id"] for b in bans) == sorted([GROUP_A, GROUP_B])
            assert all(b["user_id"] == ALICE for b in bans)
            assert {(m["chat_id"], m["message_id"]) for m in s.called("deleteMessage")} == {
                (GROUP_A, 11), (GROUP_B, 12), (GROUP_A, 13)}
            assert engine.moderation.get_user(user_id=f"tg:{ALICE}").banned
            private = [m["text"] for m in s.called("sendMessage") if m["chat_id"] == ALICE]
            assert any("permanently removed" in t for t in private)
            # Bob's harmless post was scanned and left alone.
            assert (GROUP_B, 1) not in s.deleted
            # An appeal overturned lifts the ban in every guarded chat again.
            item_id = TelegramStore(engine.db).item_of_message(GROUP_A, 13)
            assert item_id is not None
            appeal = engine.moderation.appeal(item_id=item_id, user_id=f"tg:{ALICE}",
                                              statement="not me")
            engine.moderation.resolve_appeal(appeal_id=appeal.id, reviewer="rev",
                                             outcome="overturn", reason="mistaken")
            await bot.sync_events()
            unbans = s.called("unbanChatMember")
            assert sorted(u["chat_id"] for u in unbans) == sorted([GROUP_A, GROUP_B])
            assert all(u["only_if_banned"] is True for u in unbans)
            assert TelegramStore(engine.db).banned_item([ids[2][1]]) is None

    asyncio.run(scenario())


def test_a_forwarded_repost_is_caught_by_file_unique_id_without_a_download(
        engine: Engine, known: list[bytes]) -> None:
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            file_id, unique = s.add_file(known[0])
            s.push(photo_message(GROUP_A, ALICE, 20, file_id, unique, media_group_id="g1"))
            bot = await h.new_bot()
            await h.drain(bot)
            assert len(s.called("getFile")) == 1 and len(s.downloads) == 1
            # Bob forwards it from a channel into group B: another file_id, same unique id.
            origin = {"type": "channel", "date": 1763990000, "message_id": 77,
                      "chat": {"id": -1002000000009, "type": "channel", "title": "source"}}
            s.push(photo_message(GROUP_B, BOB, 21, "AgAC-forwarded-copy", unique,
                                 forward_origin=origin))
            await h.drain(bot)
            assert len(s.called("getFile")) == 1 and len(s.downloads) == 1
            assert (GROUP_B, 21) in s.deleted
            # The re-post counts as Bob's offence like any upload.
            assert engine.moderation.get_user(user_id=f"tg:{BOB}").active_strike_weight == 1
            raw = TelegramStore(engine.db).raw_updates()
            assert raw[-1]["message"]["forward_origin"]["type"] == "channel"

    asyncio.run(scenario())


def test_held_item_confirmed_later_is_deleted_and_the_sender_warned(engine: Engine) -> None:
    """A corrupt file cannot be scanned: the policy holds it, and it stays up until a
    reviewer decides; the confirmation reaches Telegram through the events feed."""
    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            file_id, unique = s.add_file(b"\xff\xd8\xff\xe0 this is not really a jpeg")
            s.push(photo_message(GROUP_A, ALICE, 30, file_id, unique))
            bot = await h.new_bot()
            await h.drain(bot)
            assert s.called("deleteMessage") == []
            store = TelegramStore(engine.db)
            assert store.counts() == {"done": 1, "decision:hold": 1}
            assert store.errors()[0][1] != ""  # the scan's error code is kept
            review = engine.moderation.claim_next(reviewer="rev")
            assert review is not None
            engine.moderation.decide(review_id=review.id, reviewer="rev",
                                     decision="confirm", reason="abusive")
            assert await bot.sync_events() >= 2
            assert s.called("deleteMessage") == [{"chat_id": GROUP_A, "message_id": 30}]
            assert any(m["chat_id"] == ALICE for m in s.called("sendMessage"))
            # Carried out once: the feed read again changes nothing.
            assert await bot.sync_events() == 0
            assert len(s.called("deleteMessage")) == 1
            # A copy of the confirmed file is removed on sight by its file_unique_id,
            # though it has no hashes (it could not be decoded).
            s.push(photo_message(GROUP_B, BOB, 31, "another-id", unique))
            await h.drain(bot)
            assert (GROUP_B, 31) in s.deleted
            assert len(s.called("getFile")) == 1
            assert engine.moderation.get_user(user_id=f"tg:{BOB}").active_strike_weight == 1

    asyncio.run(scenario())


def test_held_items_hidden_by_policy_are_announced_when_cleared(engine: Engine) -> None:
    async def scenario() -> None:
        async with Harness(engine, hold_action="delete") as h:
            s = h.standin
            file_id, unique = s.add_file(b"GIF89a broken")
            s.push(photo_message(GROUP_A, ALICE, 40, file_id, unique))
            bot = await h.new_bot()
            await h.drain(bot)
            assert (GROUP_A, 40) in s.deleted
            assert any("held for review" in m["text"] for m in s.called("sendMessage"))
            review = engine.moderation.claim_next(reviewer="rev")
            assert review is not None
            engine.moderation.decide(review_id=review.id, reviewer="rev",
                                     decision="decline", reason="harmless")
            await bot.sync_events()
            assert any("cleared" in m["text"] for m in s.called("sendMessage"))
            assert len(s.called("deleteMessage")) == 1

    asyncio.run(scenario())


def test_removed_files_are_kept_as_evidence_with_the_message(
        engine: Engine, known: list[bytes], neutral: bytes,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from haechi.evidence.keys import new_key_text

    monkeypatch.setenv("HAECHI_VAULT_KEY", new_key_text())

    async def scenario() -> None:
        async with Harness(engine, capture_evidence=True) as h:
            s = h.standin
            origin = {"type": "hidden_user", "date": 1763990000, "sender_user_name": "anon"}
            s.push(photo_message(GROUP_A, ALICE, 110, *s.add_file(known[0]),
                                 forward_origin=origin))
            s.push(photo_message(GROUP_A, BOB, 111, *s.add_file(neutral)))  # published
            await h.drain(await h.new_bot())
            items, total = engine.evidence.list_items()
            assert total == 1
            capture = items[0].capture
            assert items[0].sha256 == hashlib.sha256(known[0]).hexdigest()
            assert (capture.service, capture.room, capture.message_id) == (
                "telegram", str(GROUP_A), "110")
            assert capture.uploader["id"] == str(ALICE)
            assert capture.forward_origin == origin
            assert capture.raw_record is not None and capture.raw_record["message_id"] == 110
            data, _ = engine.evidence.view(items[0].id, actor="test", purpose="check")
            assert data == known[0]

    asyncio.run(scenario())


def test_videos_animations_and_image_documents_are_scanned(engine: Engine) -> None:
    from telegram_harness import file_message

    from fixtures_media import encode, make_image, make_video

    clip = make_video(31, seconds=2.0)
    still = encode(make_image(32), "png")
    engine.create_bank("known-media", kind="block")
    engine.add_media("known-media", clip)
    engine.add_media("known-media", still)

    async def scenario() -> None:
        async with Harness(engine) as h:
            s = h.standin
            fid, uid = s.add_file(clip)
            s.push(file_message(GROUP_A, ALICE, 130, "video", {
                "file_id": fid, "file_unique_id": uid, "width": 160, "height": 120,
                "duration": 2, "mime_type": "video/mp4", "file_size": len(clip)}))
            fid2, uid2 = s.add_file(clip, unique="AgADanim")
            s.push(file_message(GROUP_A, BOB, 131, "animation", {
                "file_id": fid2, "file_unique_id": uid2, "width": 160, "height": 120,
                "duration": 2, "mime_type": "video/mp4"}))
            fid3, uid3 = s.add_file(still)
            s.push(file_message(GROUP_A, 7003, 132, "document", {
                "file_id": fid3, "file_unique_id": uid3, "file_name": "pic.png",
                "mime_type": "image/png", "file_size": len(still)}))
            await h.drain(await h.new_bot())
            assert {m for _, m in s.deleted} == {130, 131, 132}
            assert TelegramStore(engine.db).counts() == {"done": 3, "decision:block": 3}

    asyncio.run(scenario())
