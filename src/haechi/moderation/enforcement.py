"""Strikes, warnings and bans: what happens to the person who uploaded abusive content.

The rules (DSA art. 23, Korea's advance-warning duty): the first offence brings a
warning that spreading sexual deepfakes means permanent removal; strikes carry weights
and expire; reaching the threshold, or one severe offence, bans the user from the whole
platform, every room at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haechi.moderation import statements
from haechi.moderation.events import emit
from haechi.moderation.models import ModItem, ModStrike, ModUser, ModUserNotice
from haechi.moderation.policy import Policy
from haechi.moderation.records import active_strike_weight, user_rooms
from haechi.moderation.schemas import EventInfo

WARNING_TEXT = (
    "Your upload was removed because it breaks the rules against sexual abuse imagery, "
    "including sexual deepfakes. This is your warning: spreading such material again "
    "means permanent removal from the whole platform. You may appeal this decision."
)
STRIKE_TEXT = ("Your upload was removed and a strike was recorded ({weight:g} of "
               "{threshold:g} before permanent removal). You may appeal this decision.")
BAN_TEXT = ("You have been permanently removed from the platform, in every room: {reason}. "
            "You may appeal this decision.")


@dataclass
class OffenceResult:
    strike: ModStrike
    banned: bool
    events: list[EventInfo] = field(default_factory=list)


def record_offence(s: Session, *, policy: Policy, user: ModUser, item: ModItem | None,
                   weight: float, category: str, severe: bool, reason: str,
                   now: datetime, automated: bool) -> OffenceResult:
    """Strike the user; then warn (first offence), note the strike, or ban."""
    earlier = s.scalar(select(func.count(ModStrike.id)).where(
        ModStrike.user_id == user.id, ModStrike.lifted_at.is_(None))) or 0
    strike = ModStrike(user_id=user.id, item_id=item.id if item else None, weight=weight,
                       category=category, reason=reason, created_at=now,
                       expires_at=now + timedelta(days=policy.strikes.expiry_days))
    s.add(strike)
    s.flush()
    total = active_strike_weight(s, user.id, now)
    result = OffenceResult(strike=strike, banned=False)
    item_id = item.id if item else None
    if user.banned_at is None and (severe or total >= policy.strikes.ban_threshold):
        why = (f"a severe offence ({category})" if severe else
               f"strikes reached {total:g} of {policy.strikes.ban_threshold:g}")
        result.events.append(ban(s, user=user, reason=why, now=now, item_id=item_id,
                                 automated=automated))
        result.banned = True
    elif user.banned_at is None:
        first = earlier == 0
        message = WARNING_TEXT if first else STRIKE_TEXT.format(
            weight=total, threshold=policy.strikes.ban_threshold)
        s.add(ModUserNotice(user_id=user.id, kind="warning" if first else "strike",
                            message=message, item_id=item_id, created_at=now))
        result.events.append(emit(s, "warn_user", {
            "user_id": user.platform_id, "item_id": item_id, "first_offence": first,
            "message": message, "active_strike_weight": total,
            "ban_threshold": policy.strikes.ban_threshold,
        }, now))
    return result


def ban(s: Session, *, user: ModUser, reason: str, now: datetime, item_id: int | None,
        automated: bool) -> EventInfo:
    """Ban platform-wide; the event lists every room the user was seen in."""
    user.banned_at = now
    user.ban_reason = reason
    message = BAN_TEXT.format(reason=reason)
    s.add(ModUserNotice(user_id=user.id, kind="ban", message=message, item_id=item_id,
                        created_at=now))
    statements.record(
        s, item=None, user_id=user.id, now=now, visibility=None,
        account="DECISION_ACCOUNT_TERMINATED", facts=f"Account terminated: {reason}.",
        category="", synthetic=False, automated_detection=automated,
        automated_decision=("AUTOMATED_DECISION_FULLY" if automated
                            else "AUTOMATED_DECISION_NOT_AUTOMATED"))
    return emit(s, "ban_user", {"user_id": user.platform_id, "scope": "platform",
                                "rooms": user_rooms(s, user.id), "reason": reason,
                                "message": message}, now)


def lift_for_item(s: Session, *, policy: Policy, user: ModUser, item: ModItem, reason: str,
                  now: datetime) -> list[EventInfo]:
    """An overturned decision: lift the item's strikes, and the ban unless other
    strikes still justify it."""
    for strike in s.scalars(select(ModStrike).where(ModStrike.item_id == item.id,
                                                    ModStrike.lifted_at.is_(None))):
        strike.lifted_at = now
        strike.lifted_reason = reason
    s.flush()
    if user.banned_at is None:
        return []
    remaining = list(s.scalars(select(ModStrike).where(
        ModStrike.user_id == user.id, ModStrike.lifted_at.is_(None),
        ModStrike.expires_at > now)))
    severe_left = any(st.category in policy.severe_categories for st in remaining)
    if severe_left or sum(st.weight for st in remaining) >= policy.strikes.ban_threshold:
        return []
    user.banned_at = None
    user.ban_reason = ""
    message = f"Your account has been restored: {reason}"
    s.add(ModUserNotice(user_id=user.id, kind="reinstated", message=message, item_id=item.id,
                        created_at=now))
    return [emit(s, "unban_user", {"user_id": user.platform_id, "scope": "platform",
                                   "rooms": user_rooms(s, user.id), "reason": reason}, now)]
