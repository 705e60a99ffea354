"""What a reviewer's confirm or decline does to the item, the banks and the uploader."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haechi.banks import service as banks
from haechi.banks.service import NewEntry
from haechi.errors import ConflictError, NotFoundError
from haechi.moderation import enforcement, records, statements
from haechi.moderation.events import emit
from haechi.moderation.models import ModItem, ModReview, ModUser, ModUserNotice
from haechi.moderation.policy import CompiledPolicy
from haechi.moderation.schemas import DecisionResult
from haechi.results import EntryMetadata
from haechi.signals.pdq import MIN_QUALITY

#: Digests only: an allow-list entry by perceptual hash would also let through
#: near-duplicates of known abusive media that happen to sit within the PDQ threshold.
EXACT_SIGNALS = ("sha256", "md5")


def confirm(s: Session, policy: CompiledPolicy, row: ModReview, item: ModItem, user: ModUser,
            reviewer: str, reason: str, now: datetime, result: DecisionResult) -> None:
    """Remove the item, bank its hashes (later copies blocked), strike the uploader."""
    rule = policy.rule(str(item.decision.get("rule", "")))
    category = item.category or (rule.category if rule else "")
    item.status, item.action = "removed", "block"
    added = add_to_bank(s, policy.policy.banks.confirmed, "block", item, category,
                       reviewer, f"confirmed in review {row.id}: {reason}", exact_only=False)
    item.bank_entry_ids = list(added)
    result.bank_entries_added = len(added)
    room = records.item_info(s, item).room_id
    result.events.append(emit(s, "delete_item", {
        "item_id": item.id, "user_id": user.platform_id, "room_id": room,
        "rule": rule.name if rule else "", "reason": f"confirmed by a reviewer: {reason}",
        "category": category}, now))
    statements.record(
        s, item=item, user_id=user.id, now=now,
        visibility="DECISION_VISIBILITY_CONTENT_REMOVED", account=None,
        facts=f"{item.decision.get('reason', '')}; confirmed by a reviewer: {reason}",
        category=category, synthetic=bool(rule and rule.synthetic),
        automated_detection=True, automated_decision="AUTOMATED_DECISION_PARTIALLY")
    if user.banned_at is None:
        offence = enforcement.record_offence(
            s, policy=policy.policy, user=user, item=item,
            weight=rule.strike_weight if rule else 1.0, category=category,
            severe=policy.policy.is_severe(rule) if rule else
            category in policy.policy.severe_categories,
            reason=f"confirmed by a reviewer: {reason}", now=now, automated=False)
        result.events.extend(offence.events)
        result.strike = records.strike_info(offence.strike, user.platform_id, now)

def decline(s: Session, policy: CompiledPolicy, item: ModItem, user: ModUser, reviewer: str,
            reason: str, now: datetime, result: DecisionResult) -> None:
    """Publish the item and allow-list its exact digests."""
    item.status, item.action = "published", "allow"
    added = add_to_bank(s, policy.policy.banks.declined, "allow", item, item.category,
                       reviewer, f"declined: {reason}", exact_only=True)
    result.bank_entries_added = len(added)
    room = records.item_info(s, item).room_id
    result.events.append(emit(s, "release_item", {
        "item_id": item.id, "user_id": user.platform_id, "room_id": room,
        "reason": f"declined by a reviewer: {reason}"}, now))

def add_to_bank(s: Session, bank: str, kind: str, item: ModItem, category: str, reviewer: str,
          note: str, *, exact_only: bool) -> list[int]:
    """Add the item's hashes to ``bank`` (created on first use); the new entry ids."""
    try:
        row = banks.get_bank_row(s, bank)
    except NotFoundError:
        with s.begin_nested():
            banks.create_bank(s, name=bank, kind=kind,
                              description=f"filled by moderation reviewers ({kind})")
        row = banks.get_bank_row(s, bank)
    if row.kind != kind:
        raise ConflictError(f"bank {bank!r} is a {row.kind} bank; the policy needs a "
                            f"{kind} bank there")
    meta = EntryMetadata(source=f"moderation item {item.id}", category=category[:100],
                         note=note[:10_000], added_by=reviewer[:200])
    entries = [NewEntry(h["signal"], h["value"], h.get("quality"), meta)
               for h in item.hashes
               if (h["signal"] in EXACT_SIGNALS or not exact_only)
               and not (h["signal"] == "pdq" and (h.get("quality") or 0) < MIN_QUALITY)]
    try:
        added, _ = banks.add_entries(s, bank_name=bank, entries=entries)
    except IntegrityError as exc:
        raise ConflictError("the bank changed concurrently; retry") from exc
    return [e.id for e in added]


def settle_appeal(s: Session, policy: CompiledPolicy, item: ModItem, user: ModUser,
                  appeal_id: int, outcome: str, reason: str, now: datetime,
                  result: DecisionResult) -> int:
    """Tell the user; on overturn reinstate the item, stop its bank entries from
    matching, lift its strike and the ban it caused. Returns entries disabled."""
    if outcome == "uphold":
        s.add(ModUserNotice(user_id=user.id, kind="appeal_upheld", item_id=item.id,
                            message=f"Your appeal was rejected: {reason}", created_at=now))
        return 0
    item.status = "reinstated"
    for entry_id in item.bank_entry_ids:
        banks.set_entry_enabled(s, entry_id=entry_id, enabled=False)
    s.add(ModUserNotice(user_id=user.id, kind="appeal_granted", item_id=item.id,
                        message=f"Your appeal succeeded: {reason}", created_at=now))
    result.events.append(emit(s, "reinstate_item", {
        "item_id": item.id, "user_id": user.platform_id, "room_id": result.item.room_id,
        "reason": reason}, now))
    result.events.extend(enforcement.lift_for_item(
        s, policy=policy.policy, user=user, item=item,
        reason=f"appeal {appeal_id} overturned: {reason}", now=now))
    return len(item.bank_entry_ids)
