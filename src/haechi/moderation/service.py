"""``ModerationService``: scan + policy + enforcement, the review queue and appeals.

One instance per engine. Every method opens its own transaction, so each call either
happens completely (decision, strike, events, statement) or not at all.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.errors import (
    ConflictError,
    ForbiddenError,
    HaechiError,
    InvalidRequestError,
    NotFoundError,
)
from haechi.moderation import (
    audit,
    enforcement,
    heldmedia,
    queue,
    records,
    statements,
    verdicts,
)
from haechi.moderation.audit import AuditEntry
from haechi.moderation.desks import AccountDesk, NoticeDesk, WebhookDispatcher
from haechi.moderation.events import emit
from haechi.moderation.models import (
    ModAppeal,
    ModEvent,
    ModItem,
    ModReview,
    ModStrike,
    ModUser,
    ModUserNotice,
)
from haechi.moderation.policy import CompiledPolicy, PolicyDecision, PolicyInput, load_policy
from haechi.moderation.ratelimit import RateLimiter
from haechi.moderation.schemas import (
    AppealInfo,
    AppealOutcome,
    DecisionResult,
    EventInfo,
    ItemInfo,
    ModerationOutcome,
    ReviewDecision,
    ReviewInfo,
    ReviewPage,
    StrikeInfo,
    UserInfo,
    UserNoticeInfo,
)
from haechi.moderation.settings import ModerationSettings
from haechi.results import ScanResult

if TYPE_CHECKING:  # the engine will hold this service: no import cycle at run time
    from haechi.engine import Engine

_STATUS = {"block": "removed", "hold": "held", "restrict": "restricted", "allow": "published"}
MAX_DETECTIONS = 50


def check_detections(detections: Mapping[str, float] | None) -> dict[str, float]:
    """Detector scores from the caller: names of 1-50 characters, values in 0..1."""
    if not detections:
        return {}
    if len(detections) > MAX_DETECTIONS:
        raise InvalidRequestError(f"at most {MAX_DETECTIONS} detection scores")
    clean: dict[str, float] = {}
    for name, value in detections.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 50 or "\x00" in name:
            raise InvalidRequestError(f"detection name {name!r} must be 1-50 characters")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InvalidRequestError(f"detection {name!r} must be a number from 0 to 1, "
                                      f"got {value!r}")
        clean[name] = float(value)
    return clean


class ModerationService:
    """Moderation over an :class:`~haechi.engine.Engine`.

    ``policy``: a compiled policy, a path to a YAML file, or None for the default.
    ``clock``: the current time (tests move it to expire strikes and leases).
    """

    def __init__(self, engine: Engine, *, policy: CompiledPolicy | Path | None = None,
                 clock: Callable[[], datetime] | None = None,
                 settings: ModerationSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or ModerationSettings()
        if policy is None:
            policy = self.settings.policy
        self.policy = policy if isinstance(policy, CompiledPolicy) else load_policy(policy)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.notices = NoticeDesk(self)
        self.webhooks = WebhookDispatcher(self)
        self.accounts = AccountDesk(self)
        self.notice_limiter = RateLimiter(self.settings.notices_per_window,
                                          self.settings.notice_window_s)
        self._key: bytes | None = None

    def _media_key(self) -> bytes:
        if self._key is None:
            self._key = heldmedia.load_key(self.settings.media_key,
                                           self.engine.settings.data_dir)
        return self._key

    def now(self) -> datetime:
        return self._clock()

    # -- uploads ---------------------------------------------------------------------

    def evaluate(self, *, scan: ScanResult,
                 detections: Mapping[str, float] | None = None) -> PolicyDecision:
        """The policy's decision for a scan, without recording anything."""
        return self.policy.evaluate(self._facts(scan, check_detections(detections)))

    @staticmethod
    def _facts(scan: ScanResult, detections: dict[str, float]) -> PolicyInput:
        return PolicyInput(matches=scan.matches, detections=detections,
                           media_kind=scan.media.kind if scan.media else None,
                           scan_error=scan.error.code if scan.error else None)

    def moderate_upload(self, data: bytes, *, user_id: str, room_id: str,
                        name: str | None = None,
                        detections: Mapping[str, float] | None = None,
                        service: str | None = None) -> ModerationOutcome:
        """Scan an upload, decide by the policy, and enforce: remove, hold, restrict or
        publish; strike, warn or ban the uploader; queue the events for the platform."""
        scores = check_detections(detections)
        records.check_platform_id(user_id, "user id")
        records.check_platform_id(room_id, "room id")
        scan = self.engine.scan_bytes(data, name=name, service=service)
        # Measured verdicts feed the policy; a platform's own score for a name wins.
        measured = scan.detections.policy_scores() if scan.detections else {}
        scores = {**measured, **scores}
        now = self.now()
        with self.engine.db.session() as s:
            user = records.get_or_create_user(s, user_id)
            room = records.get_or_create_room(s, room_id)
            records.join(s, user, room)
            decision = records.banned_decision(user)
            if decision is None:
                decision = self.policy.evaluate(self._facts(scan, scores))
                decision = self._victim_face_alert(data, scores, decision, service)
            item = ModItem(
                user_id=user.id, room_id=room.id, name=(name or "")[:500],
                media_kind=scan.media.kind if scan.media else "",
                hashes=[h.model_dump() for h in scan.hashes], detections=scores,
                decision=decision.model_dump(), action=decision.action,
                status=_STATUS[decision.action], category=decision.category, created_at=now)
            s.add(item)
            s.flush()
            events, strike, review_id = self.enforce(s, user, room.platform_id, item,
                                                      decision, now)
            if review_id is not None and scan.media is not None:
                heldmedia.store(s, item_id=item.id, data=data, media_format=scan.media.format,
                                key=self._media_key())
            return ModerationOutcome(
                item=records.item_info(s, item), decision=decision, scan=scan,
                user=records.user_info(s, user, now), review_id=review_id, events=events,
                strike=records.strike_info(strike, user_id, now) if strike else None)

    def _victim_face_alert(self, data: bytes, scores: Mapping[str, float],
                           decision: PolicyDecision, service: str | None) -> PolicyDecision:
        """Sexual content showing a face a victim registered is held even when no hash
        matched, and her case is alerted. Blocks stay blocks; only what would have been
        published, restricted or queued lower is raised to a top-priority hold."""
        threshold = self.engine.detection.settings.sexual_threshold
        if decision.action == "block" or scores.get("sexual", 0.0) < threshold:
            return decision
        if not self.engine.victims.has_faces():
            return decision
        from haechi.victims.faces import embed_faces

        try:
            embeddings = embed_faces(data)
        except HaechiError:
            return decision  # no readable image or no face model: nothing to compare
        if not embeddings:
            return decision
        cases = self.engine.victims.face_alert(embeddings=embeddings,
                                               service=service or "moderation")
        if not cases:
            return decision
        return PolicyDecision(
            action="hold", rule="victim-face-alert", category="victim_face_match",
            reason=(f"sexual content (score {scores['sexual']:.2f}) shows a face registered "
                    f"by {len(cases)} victim case(s); held for review"),
            review_priority=max(decision.review_priority, 900),
            matched_rules=[*decision.matched_rules, "victim-face-alert"],
            match_category=decision.match_category)

    def enforce(self, s: Session, user: ModUser, room_id: str, item: ModItem,
                decision: PolicyDecision,
                now: datetime) -> tuple[list[EventInfo], ModStrike | None, int | None]:
        """Carry out ``decision`` for an item already added in session ``s``: queue the
        review, strike, warn or ban. Public for transports that decide from stored hashes
        (a Telegram re-post known by its file id) and must enforce exactly as uploads do."""
        events: list[EventInfo] = []
        if decision.action == "hold":
            review = ModReview(item_id=item.id, priority=decision.review_priority,
                               created_at=now)
            s.add(review)
            s.flush()
            return events, None, review.id
        if decision.action == "allow":
            return events, None, None
        base = {"item_id": item.id, "user_id": user.platform_id, "room_id": room_id,
                "rule": decision.rule, "reason": decision.reason,
                "category": decision.category}
        if decision.action == "restrict":
            events.append(emit(s, "restrict_item", base, now))
            statements.record(
                s, item=item, user_id=user.id, now=now,
                visibility="DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED", account=None,
                facts=decision.reason, category=decision.category,
                synthetic=decision.synthetic, automated_detection=True,
                automated_decision="AUTOMATED_DECISION_FULLY")
            return events, None, None
        events.append(emit(s, "delete_item", base, now))
        statements.record(
            s, item=item, user_id=user.id, now=now,
            visibility="DECISION_VISIBILITY_CONTENT_REMOVED", account=None,
            facts=decision.reason, category=decision.match_category or decision.category,
            synthetic=decision.synthetic
            or decision.match_category in statements.SYNTHETIC_CATEGORIES,
            automated_detection=True, automated_decision="AUTOMATED_DECISION_FULLY")
        if decision.rule == "banned-user" or decision.strike_weight <= 0:
            return events, None, None
        offence = enforcement.record_offence(
            s, policy=self.policy.policy, user=user, item=item,
            weight=decision.strike_weight, category=decision.category,
            severe=decision.severe, reason=decision.reason, now=now, automated=True)
        events.extend(offence.events)
        return events, offence.strike, None

    # -- users -----------------------------------------------------------------------

    def get_user(self, *, user_id: str) -> UserInfo:
        with self.engine.db.session() as s:
            return records.user_info(s, records.get_user(s, user_id), self.now())

    def may_post(self, *, user_id: str, room_id: str) -> bool:
        """False for a banned user, in every room of the platform."""
        with self.engine.db.session() as s:
            user = s.scalar(select(ModUser).where(ModUser.platform_id == user_id))
            return user is None or user.banned_at is None

    def strikes(self, *, user_id: str) -> list[StrikeInfo]:
        now = self.now()
        with self.engine.db.session() as s:
            user = records.get_user(s, user_id)
            return [records.strike_info(r, user_id, now) for r in s.scalars(
                select(ModStrike).where(ModStrike.user_id == user.id).order_by(ModStrike.id))]

    def user_notices(self, *, user_id: str) -> list[UserNoticeInfo]:
        with self.engine.db.session() as s:
            user = records.get_user(s, user_id)
            return [records.notice_info(r, user_id) for r in s.scalars(
                select(ModUserNotice).where(ModUserNotice.user_id == user.id)
                .order_by(ModUserNotice.id))]

    def user_items(self, *, user_id: str, limit: int = 100) -> list[ItemInfo]:
        with self.engine.db.session() as s:
            user = records.get_user(s, user_id)
            return [records.item_info(s, r) for r in s.scalars(
                select(ModItem).where(ModItem.user_id == user.id)
                .order_by(ModItem.id.desc()).limit(limit))]

    def get_item(self, *, item_id: int) -> ItemInfo:
        with self.engine.db.session() as s:
            return records.item_info(s, records.get_item(s, item_id))

    def events(self, *, after_id: int = 0, limit: int = 100) -> list[EventInfo]:
        if not 1 <= limit <= 1000:
            raise InvalidRequestError("limit must be 1..1000")
        with self.engine.db.session() as s:
            return [records.event_info(r) for r in s.scalars(
                select(ModEvent).where(ModEvent.id > after_id).order_by(ModEvent.id)
                .limit(limit))]

    # -- review queue ----------------------------------------------------------------

    def claim_next(self, *, reviewer: str, lease_seconds: float = 900,
                   escalated: bool | None = None) -> ReviewInfo | None:
        """The highest-priority, oldest free item, leased to ``reviewer``; None if none."""
        lease = _lease(lease_seconds)
        with self.engine.db.session() as s:
            row = queue.claim_next(s, reviewer=_who(reviewer), now=self.now(), lease=lease,
                                   escalated=escalated)
            return queue.review_info(s, row) if row else None

    def claim(self, *, review_id: int, reviewer: str,
              lease_seconds: float = 900) -> ReviewInfo:
        with self.engine.db.session() as s:
            row = queue.claim(s, review_id=review_id, reviewer=_who(reviewer), now=self.now(),
                              lease=_lease(lease_seconds))
            return queue.review_info(s, row)

    def get_review(self, *, review_id: int) -> ReviewInfo:
        with self.engine.db.session() as s:
            row = s.get(ModReview, review_id)
            if row is None:
                raise NotFoundError(f"no review {review_id}")
            return queue.review_info(s, row)

    def list_reviews(self, *, view: str = "pending", limit: int = 50,
                     offset: int = 0) -> ReviewPage:
        with self.engine.db.session() as s:
            return queue.page(s, view=view, limit=limit, offset=offset)

    def decide(self, *, review_id: int, reviewer: str, decision: ReviewDecision,
               reason: str) -> DecisionResult:
        """Confirm (remove, strike, bank the hashes), decline (publish, allow-list the
        file) or escalate (back to the queue, marked for senior review)."""
        reviewer, reason = _who(reviewer), queue.check_reason(reason)
        if decision not in ("confirm", "decline", "escalate"):
            raise InvalidRequestError("decision must be confirm, decline or escalate")
        now = self.now()
        with self.engine.db.session() as s:
            row = queue.locked_for_decision(s, review_id=review_id, reviewer=reviewer, now=now)
            item = records.get_item(s, row.item_id)
            user = s.get(ModUser, item.user_id)
            assert user is not None
            result = DecisionResult(item=records.item_info(s, item),
                                    user=records.user_info(s, user, now))
            audit.record(s, actor=reviewer, action=f"review_{decision}",
                         target=f"item {item.id}", now=now, review=row.id, reason=reason)
            if decision == "escalate":
                row.escalated = True
                queue.release(row, reviewer=reviewer, now=now, step="escalate", reason=reason)
                return result
            if decision == "confirm":
                verdicts.confirm(s, self.policy, row, item, user, reviewer, reason, now, result)
            else:
                verdicts.decline(s, self.policy, item, user, reviewer, reason, now, result)
            queue.close(row, reviewer=reviewer, now=now, decision=decision, reason=reason)
            heldmedia.discard(s, item_id=item.id)
            s.flush()
            result.item = records.item_info(s, item)
            result.user = records.user_info(s, user, now)
        if result.bank_entries_added:
            self.engine.indexes.refresh(force=True)
        return result

    # -- appeals ---------------------------------------------------------------------

    def appeal(self, *, item_id: int, user_id: str, statement: str) -> AppealInfo:
        """The uploader contests a removal or restriction (DSA art. 20)."""
        statement = statement.strip()
        if not 1 <= len(statement) <= 10_000 or "\x00" in statement:
            raise InvalidRequestError("an appeal needs a statement of 1-10000 characters")
        with self.engine.db.session() as s:
            item = records.get_item(s, item_id)
            user = records.get_user(s, user_id)
            if item.user_id != user.id:
                raise NotFoundError(f"user {user_id!r} has no item {item_id}")
            if item.status not in ("removed", "restricted"):
                raise ConflictError(f"item {item_id} is {item.status}: nothing to appeal")
            if s.scalar(select(ModAppeal.id).where(ModAppeal.item_id == item_id,
                                                   ModAppeal.state == "open")) is not None:
                raise ConflictError(f"item {item_id} already has an open appeal")
            row = ModAppeal(item_id=item_id, user_id=user.id, statement=statement,
                            created_at=self.now())
            s.add(row)
            s.flush()
            return records.appeal_info(row, user_id)

    def list_appeals(self, *, state: str = "open", limit: int = 100) -> list[AppealInfo]:
        with self.engine.db.session() as s:
            rows = s.execute(select(ModAppeal, ModUser.platform_id)
                             .join(ModUser, ModUser.id == ModAppeal.user_id)
                             .where(ModAppeal.state == state)
                             .order_by(ModAppeal.created_at, ModAppeal.id).limit(limit))
            return [records.appeal_info(a, uid) for a, uid in rows]

    def resolve_appeal(self, *, appeal_id: int, reviewer: str, outcome: AppealOutcome,
                       reason: str) -> DecisionResult:
        """Uphold, or overturn: reinstate the item, lift its strike and the ban it caused,
        and stop its hashes from blocking copies."""
        reviewer, reason = _who(reviewer), queue.check_reason(reason)
        if outcome not in ("uphold", "overturn"):
            raise InvalidRequestError("outcome must be uphold or overturn")
        now = self.now()
        with self.engine.db.session() as s:
            appeal = s.get(ModAppeal, appeal_id, with_for_update=True)
            if appeal is None:
                raise NotFoundError(f"no appeal {appeal_id}")
            if appeal.state != "open":
                raise ConflictError(f"appeal {appeal_id} was already decided ({appeal.outcome})")
            item = records.get_item(s, appeal.item_id)
            user = s.get(ModUser, appeal.user_id)
            assert user is not None
            audit.record(s, actor=reviewer, action=f"appeal_{outcome}",
                         target=f"item {item.id}", now=now, appeal=appeal_id, reason=reason)
            appeal.state, appeal.outcome, appeal.outcome_reason = "decided", outcome, reason
            appeal.decided_by, appeal.decided_at = reviewer, now
            result = DecisionResult(item=records.item_info(s, item),
                                    user=records.user_info(s, user, now))
            disabled = verdicts.settle_appeal(s, self.policy, item, user, appeal_id, outcome,
                                              reason, now, result)
            s.flush()
            result.item = records.item_info(s, item)
            result.user = records.user_info(s, user, now)
        if disabled:
            self.engine.indexes.refresh(force=True)
        return result

    # -- sensitive media and the audit log ------------------------------------------

    def reveal_media(self, *, item_id: int, actor: str, allowed: bool) -> tuple[bytes, str]:
        """A held item's original bytes for ``actor``; every attempt is audited, and one
        without the right (``allowed`` False) is refused after being logged."""
        now = self.now()
        with self.engine.db.session() as s:
            audit.record(s, actor=actor, action="reveal" if allowed else "reveal_denied",
                         target=f"item {item_id}", now=now)
        if not allowed:
            raise ForbiddenError("this account may not reveal sensitive media")
        with self.engine.db.session() as s:
            return heldmedia.load(s, item_id=item_id, key=self._media_key())

    def held_media(self, *, item_id: int) -> tuple[bytes, str]:
        """The held bytes for server-side processing (the blurred preview); not audited
        because they never leave the server unblurred."""
        with self.engine.db.session() as s:
            return heldmedia.load(s, item_id=item_id, key=self._media_key())

    def audit_log(self, *, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
        if not 1 <= limit <= 1000:
            raise InvalidRequestError("limit must be 1..1000")
        with self.engine.db.session() as s:
            return audit.entries(s, limit=limit, action=action)

    # -- statements of reasons -------------------------------------------------------

    def statements(self, *, since: datetime | None = None) -> list[dict[str, Any]]:
        with self.engine.db.session() as s:
            return list(statements.export(s, since=since))


_SERVICES: weakref.WeakKeyDictionary[Engine, ModerationService] = weakref.WeakKeyDictionary()
_SERVICES_LOCK = threading.Lock()


def service_for(engine: Engine) -> ModerationService:
    """The engine's moderation service: its ``moderation`` attribute when it has one,
    else one made on first use and kept for the engine's lifetime."""
    attached = getattr(engine, "moderation", None)
    if isinstance(attached, ModerationService):
        return attached
    with _SERVICES_LOCK:
        svc = _SERVICES.get(engine)
        if svc is None:
            svc = _SERVICES[engine] = ModerationService(engine)
        return svc


def _who(reviewer: str) -> str:
    reviewer = reviewer.strip()
    if not reviewer or len(reviewer) > 200 or "\x00" in reviewer:
        raise InvalidRequestError("a reviewer is named by 1-200 characters")
    return reviewer


def _lease(seconds: float) -> timedelta:
    if not 10 <= seconds <= 24 * 3600:
        raise InvalidRequestError("a lease lasts 10 seconds to 24 hours")
    return timedelta(seconds=seconds)
