"""Finding and creating users, rooms and items, and turning rows into result models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.errors import InvalidRequestError, NotFoundError
from haechi.moderation.models import (
    ModAppeal,
    ModEvent,
    ModItem,
    ModMembership,
    ModRoom,
    ModStrike,
    ModUser,
    ModUserNotice,
)
from haechi.moderation.policy import PolicyDecision
from haechi.moderation.schemas import (
    AppealInfo,
    EventInfo,
    ItemInfo,
    StrikeInfo,
    UserInfo,
    UserNoticeInfo,
)

MAX_ID_CHARS = 200
_PlatformRow = TypeVar("_PlatformRow", ModUser, ModRoom)


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every stored one is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def check_platform_id(value: str, what: str) -> str:
    if not value or len(value) > MAX_ID_CHARS or "\x00" in value:
        raise InvalidRequestError(f"a {what} is 1-{MAX_ID_CHARS} characters without NUL")
    return value


def get_or_create_user(s: Session, platform_id: str) -> ModUser:
    check_platform_id(platform_id, "user id")
    return _get_or_create(s, ModUser, platform_id)


def get_user(s: Session, platform_id: str) -> ModUser:
    user = s.scalar(select(ModUser).where(ModUser.platform_id == platform_id))
    if user is None:
        raise NotFoundError(f"no user {platform_id!r} is known to moderation")
    return user


def get_or_create_room(s: Session, platform_id: str) -> ModRoom:
    check_platform_id(platform_id, "room id")
    return _get_or_create(s, ModRoom, platform_id)


def _get_or_create(s: Session, model: type[_PlatformRow], platform_id: str) -> _PlatformRow:
    row = s.scalar(select(model).where(model.platform_id == platform_id))
    if row is not None:
        return row
    try:
        # A savepoint: when a concurrent upload by the same new user or in the same new
        # room inserts first, only this insert is undone and the row is read instead.
        with s.begin_nested():
            row = model(platform_id=platform_id)
            s.add(row)
    except IntegrityError:
        row = s.scalar(select(model).where(model.platform_id == platform_id))
        assert row is not None
    return row


def join(s: Session, user: ModUser, room: ModRoom) -> None:
    exists = s.scalar(select(ModMembership.id).where(ModMembership.user_id == user.id,
                                                     ModMembership.room_id == room.id))
    if exists is None:
        try:
            with s.begin_nested():  # as in _get_or_create: a concurrent insert may win
                s.add(ModMembership(user_id=user.id, room_id=room.id))
        except IntegrityError:
            pass


def banned_decision(user: ModUser) -> PolicyDecision | None:
    """The decision for anything a banned user posts (None for a user in good standing):
    blocked whatever it is, without a further strike."""
    if user.banned_at is None:
        return None
    return PolicyDecision(
        action="block", rule="banned-user", category="banned_user",
        reason=f"the uploader is banned from the platform ({user.ban_reason})")


def user_rooms(s: Session, user_id: int) -> list[str]:
    return list(s.scalars(
        select(ModRoom.platform_id).join(ModMembership, ModMembership.room_id == ModRoom.id)
        .where(ModMembership.user_id == user_id).order_by(ModRoom.platform_id)))


def active_strike_weight(s: Session, user_id: int, now: datetime) -> float:
    total = s.scalar(select(func.coalesce(func.sum(ModStrike.weight), 0.0)).where(
        ModStrike.user_id == user_id, ModStrike.lifted_at.is_(None),
        ModStrike.expires_at > now))
    return float(total or 0.0)


def user_info(s: Session, user: ModUser, now: datetime | None = None) -> UserInfo:
    now = now or datetime.now(UTC)
    return UserInfo(
        user_id=user.platform_id, banned=user.banned_at is not None,
        banned_at=aware(user.banned_at) if user.banned_at else None, ban_reason=user.ban_reason,
        active_strike_weight=active_strike_weight(s, user.id, now),
        rooms=user_rooms(s, user.id),
    )


def get_item(s: Session, item_id: int) -> ModItem:
    item = s.get(ModItem, item_id)
    if item is None:
        raise NotFoundError(f"no moderation item {item_id}")
    return item


def platform_ids(s: Session, items: list[ModItem]) -> dict[tuple[str, int], str]:
    """The platform ids of the items' users and rooms, in two queries."""
    out: dict[tuple[str, int], str] = {}
    for kind, model, ids in (("user", ModUser, {i.user_id for i in items}),
                             ("room", ModRoom, {i.room_id for i in items})):
        if ids:
            for row_id, platform_id in s.execute(
                    select(model.id, model.platform_id).where(model.id.in_(ids))):
                out[(kind, row_id)] = platform_id
    return out


def item_info(s: Session, item: ModItem,
              names: dict[tuple[str, int], str] | None = None) -> ItemInfo:
    names = names if names is not None else platform_ids(s, [item])
    return ItemInfo(
        id=item.id, user_id=names[("user", item.user_id)],
        room_id=names[("room", item.room_id)], name=item.name,
        media_kind=item.media_kind, action=item.action, status=item.status,
        category=item.category, decision=PolicyDecision.model_validate(item.decision),
        detections=dict(item.detections), hashes=list(item.hashes),
        created_at=aware(item.created_at),
    )


def strike_info(strike: ModStrike, platform_user_id: str, now: datetime) -> StrikeInfo:
    return StrikeInfo(
        id=strike.id, user_id=platform_user_id, item_id=strike.item_id, weight=strike.weight,
        category=strike.category, reason=strike.reason, created_at=aware(strike.created_at),
        expires_at=aware(strike.expires_at),
        active=strike.lifted_at is None and aware(strike.expires_at) > now,
        lifted_reason=strike.lifted_reason,
    )


def notice_info(row: ModUserNotice, platform_user_id: str) -> UserNoticeInfo:
    return UserNoticeInfo(id=row.id, user_id=platform_user_id, kind=row.kind,
                          message=row.message, item_id=row.item_id,
                          created_at=aware(row.created_at))


def event_info(row: ModEvent) -> EventInfo:
    return EventInfo(id=row.id, uid=row.uid, type=row.type, payload=dict(row.payload),
                     created_at=aware(row.created_at))


def appeal_info(row: ModAppeal, platform_user_id: str) -> AppealInfo:
    return AppealInfo(
        id=row.id, item_id=row.item_id, user_id=platform_user_id, statement=row.statement,
        state=row.state, outcome=row.outcome, outcome_reason=row.outcome_reason,
        decided_by=row.decided_by, created_at=aware(row.created_at),
        decided_at=aware(row.decided_at) if row.decided_at else None,
    )
