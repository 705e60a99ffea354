"""Moderating a re-post of a file already removed, without downloading it again.

A forward or re-post carries the same ``file_unique_id``. Its hashes are those of the
item that banned the file, so they are matched against the banks as they are now (an
appeal may have allow-listed the file since) and the policy decides as for an upload:
the uploader is struck, warned or banned the same way. A file that could not be decoded
has no hashes; when a reviewer removed it, its re-posts are removed by the id alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from haechi.moderation import records
from haechi.moderation.models import ModItem
from haechi.moderation.policy import PolicyDecision, Rule

if TYPE_CHECKING:
    from haechi.engine import Engine


#: The default policy's rule for known media: its category and strike weight also apply
#: to a file a reviewer removed that has no hashes (it could not be decoded).
KNOWN_RULE = "known-bank-match"


def _confirmed_unhashable(rule: Rule | None, item_id: int) -> PolicyDecision:
    return PolicyDecision(
        action="block", rule="known-telegram-file",
        category=rule.category if rule and rule.category else "known_abusive_media",
        strike_weight=rule.strike_weight if rule else 1.0,
        reason=f"the same Telegram file (file_unique_id) as item {item_id}, which a "
               "reviewer removed; it has no hashes because it could not be decoded")


def moderate_known(engine: Engine, *, original_item_id: int, user_id: str, room_id: str,
                   name: str) -> int | None:
    """The new item's id, or None when the file no longer blocks (download it then)."""
    svc = engine.moderation
    original = svc.get_item(item_id=original_item_id)
    hashes = [(str(h["signal"]), str(h["value"])) for h in original.hashes
              if h.get("signal") and h.get("value")]
    if not hashes and original.status != "removed":
        return None
    scan = None
    if hashes:
        quality = next((h.get("quality") for h in original.hashes
                        if h.get("signal") == "pdq"), None)
        scan = engine.scan_hashes(hashes, pdq_quality=quality, service="telegram")
    now = svc.now()
    with engine.db.session() as s:
        user = records.get_or_create_user(s, user_id)
        room = records.get_or_create_room(s, room_id)
        records.join(s, user, room)
        decision = records.banned_decision(user)
        if decision is None and scan is not None:
            decision = svc.evaluate(scan=scan)
        elif decision is None:
            decision = _confirmed_unhashable(svc.policy.rule(KNOWN_RULE), original_item_id)
        if decision.action != "block":
            return None
        item = ModItem(user_id=user.id, room_id=room.id, name=name[:500],
                       media_kind=original.media_kind, hashes=original.hashes,
                       detections={}, decision=decision.model_dump(), action="block",
                       status="removed", category=decision.category, created_at=now)
        s.add(item)
        s.flush()
        # The same enforcement an upload gets: delete event, strike, warning or ban.
        svc.enforce(s, user, room.platform_id, item, decision, now)
        return item.id
