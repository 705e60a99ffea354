"""``VictimsService``: cases opened with hashes only, their status, withdrawal, and what
was blocked.

A case's hashes become entries of the ``victims`` bank, so the engine's matching and its
index change feed do the blocking: disabling an entry stops it matching in every replica
within the index refresh interval (half a second by default). Every method opens its own
transactions; a PIN miss is committed before it is reported, so throttling survives it.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.banks import service as banks
from haechi.errors import ConflictError, InvalidRequestError, NotFoundError
from haechi.moderation import audit
from haechi.moderation.ratelimit import RateLimiter
from haechi.results import ScanResult
from haechi.signals import get_signal
from haechi.store.models import BankEntry
from haechi.victims import pins, records
from haechi.victims.feed import publish
from haechi.victims.models import (
    VictimAdvocate,
    VictimAlert,
    VictimBlock,
    VictimCase,
    VictimFace,
    VictimHash,
)
from haechi.victims.records import VICTIMS_BANK
from haechi.victims.schemas import (
    AdvocateCaseView,
    AlertInfo,
    CaseReceipt,
    CaseRequest,
    CaseView,
    Feedback,
)
from haechi.victims.settings import VictimsSettings
from haechi.victims.views import advocate_view, case_view

if TYPE_CHECKING:  # the engine will hold this service: no import cycle at run time
    from haechi.engine import Engine

#: Priority 0 is served first; cases about minors always get it.
PRIORITY_MINOR, PRIORITY_NORMAL = 0, 2


class VictimsService:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None,
                 settings: VictimsSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or VictimsSettings()
        self._clock = clock or (lambda: datetime.now(UTC))
        from haechi.victims.exchange import Exchange
        from haechi.victims.takedowns import TakedownDesk

        self.takedowns = TakedownDesk(self)
        #: For the public case form: per client address, per process (as for notices).
        self.submission_limiter = RateLimiter(self.settings.submissions_per_window,
                                              self.settings.submission_window_s)
        #: PIN checks per client address: each costs an argon2 verification.
        self.pin_limiter = RateLimiter(self.settings.pin_checks_per_window,
                                       self.settings.pin_check_window_s)
        self.exchange = Exchange(self)

    def now(self) -> datetime:
        return self._clock()

    def ensure_bank(self) -> None:
        try:
            self.engine.get_bank(VICTIMS_BANK)
        except NotFoundError:
            with contextlib.suppress(ConflictError):  # another process made it first
                self.engine.create_bank(VICTIMS_BANK, description="Hashes registered by "
                                        "victims from their own devices; one case each.")

    # -- victims ---------------------------------------------------------------------

    def submit(self, *, request: CaseRequest, organisation: str | None = None,
               actor: str = "victim") -> CaseReceipt:
        """Open a case from hashes; returns its number and PIN (the only time the PIN is
        seen). The case is Received, then Active once its hashes are in the bank."""
        kept, skipped = records.clean_hashes(request)
        pin = pins.new_pin()
        now = self.now()
        with self.engine.db.session() as s:
            number = self._unused_number(s)
            row = VictimCase(
                number=number, pin_hash=pins.hash_pin(pin), status="received",
                minor=request.minor,
                priority=PRIORITY_MINOR if request.minor else PRIORITY_NORMAL,
                contact=request.contact, organisation=organisation or self.settings.organisation,
                created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            s.add_all(VictimHash(case_id=row.id, item=h.item, kind=h.kind, signal=h.signal,
                                 value=h.value, quality=h.quality) for h in kept)
            audit.record(s, actor=actor, action="victim_case_open", target=f"case {number}",
                         now=now, files=len(request.items), minor=request.minor)
            case_id = row.id
        self.activate(case_id=case_id)
        with self.engine.db.session() as s:
            view = case_view(s, records.get_case_row(s, case_id))
        return CaseReceipt(case_number=number, pin=pin, case=view, skipped=skipped)

    @staticmethod
    def _unused_number(s: Session) -> str:
        for _ in range(10):
            number = pins.new_number()
            if s.scalar(select(VictimCase.id).where(VictimCase.number == number)) is None:
                return number
        raise ConflictError("could not find a free case number; retry")

    def activate(self, *, case_id: int) -> None:
        """Put a Received case's hashes in the bank and mark it Active (idempotent)."""
        self.ensure_bank()
        now = self.now()
        with self.engine.db.session() as s:
            row = s.get(VictimCase, case_id, with_for_update=True)
            if row is None or row.status != "received":
                return
            hashes = s.scalars(select(VictimHash).where(VictimHash.case_id == case_id)).all()
            records.link_entries(s, hashes, row)
            row.status, row.updated_at = "active", now
            if row.origin == "":
                publish(s, row, hashes, "add", now)
        self.engine.indexes.refresh(force=True)

    def _open(self, number: str, pin: str, action: str) -> int:
        """The id of the case that ``pin`` opens; every attempt is audited."""
        clean = pins.normalise_number(number)
        now = self.now()
        with self.engine.db.session() as s:
            row = s.scalar(select(VictimCase).where(VictimCase.number == clean)
                           .with_for_update()) if clean else None
            error = pins.check(row, pin, now)
            audit.record(s, actor="victim", action=action if error is None else
                         f"{action}_denied", target=f"case {clean or '?'}", now=now)
            case_id = row.id if row is not None else 0
        if error is not None:
            raise error
        return case_id

    def view(self, *, number: str, pin: str) -> CaseView:
        case_id = self._open(number, pin, "victim_case_view")
        with self.engine.db.session() as s:
            return case_view(s, records.get_case_row(s, case_id))

    def withdraw(self, *, number: str, pin: str) -> CaseView:
        """Stop the case's hashes matching, everywhere the bank and the feed reach."""
        return self._end(self._open(number, pin, "victim_case_withdraw"), "withdrawn")

    def delete(self, *, number: str, pin: str) -> CaseView:
        """Withdraw, then forget the hash values and the contact."""
        return self._end(self._open(number, pin, "victim_case_delete"), "deleted")

    def _end(self, case_id: int, status: str, actor: str | None = None) -> CaseView:
        now = self.now()
        with self.engine.db.session() as s:
            row = s.get(VictimCase, case_id, with_for_update=True)
            assert row is not None
            if row.status == "deleted" or row.status == status:
                return case_view(s, row)
            records.end_case(s, row, status, now)
            if actor is not None:
                audit.record(s, actor=actor, action=f"victim_case_{status}",
                             target=f"case {row.number}", now=now)
            view = case_view(s, row)
        self.engine.indexes.refresh(force=True)
        return view

    # -- what was blocked ------------------------------------------------------------

    def record_scan(self, *, scan: ScanResult, service: str) -> int:
        """Count a scan that matched cases' entries: Blocked, or NotBlocked when an
        allow-list overrode it. Returns the number of cases it counted for. Meant to be
        called by the engine after every scan; nothing of the upload is kept."""
        matched = {m.entry_id: m for m in scan.matches if m.bank == VICTIMS_BANK}
        if not matched:
            return 0
        outcome: Feedback = "blocked" if scan.decision == "block" else "not_blocked"
        with self.engine.db.session() as s:
            return records.count_outcome(s, matched.keys(), service, outcome, self.now(),
                          {i: (m.signal, m.distance) for i, m in matched.items()})

    def feedback(self, *, signal: str, value: str, service: str,
                 outcome: Feedback) -> int:
        """A platform's word on a hash it received (StopNCII feedback states)."""
        canonical = get_signal(signal).parse(value)
        with self.engine.db.session() as s:
            ids = s.scalars(select(BankEntry.id).join(BankEntry.bank).where(
                BankEntry.signal == signal,
                BankEntry.lookup == banks.lookup_key(signal, canonical))).all()
            found = [i for i in ids if records.in_victims_bank(s, i)]
            if not found:
                raise NotFoundError("no case holds this hash")
            return records.count_outcome(s, found, service, outcome, self.now(), {})

    # -- monthly report --------------------------------------------------------------

    def monthly_report(self, *, month: str, number: str, pin: str | None = None,
                       organisation: str | None = None, actor: str = "victim") -> bytes:
        """The case's PDF status report for ``month`` (YYYY-MM): opened with the PIN by
        the victim, or (``pin`` None) by an advocate of ``organisation`` (None: any)."""
        from haechi.victims.report_pdf import month_bounds, render

        start, end = month_bounds(month)
        if pin is not None:
            case_id = self._open(number, pin, "victim_case_report")
        else:
            with self.engine.db.session() as s:
                case_id = records.case_for(s, number, organisation).id
                audit.record(s, actor=actor, action="victim_case_report",
                             target=f"case {number}", now=self.now(), month=month)
        now = self.now()
        with self.engine.db.session() as s:
            row = records.get_case_row(s, case_id)
            events = [(b.at, b.service, b.outcome) for b in s.scalars(
                select(VictimBlock).where(VictimBlock.case_id == case_id,
                                          VictimBlock.at >= start, VictimBlock.at < end)
                .order_by(VictimBlock.at))]
            view = case_view(s, row)
            takedowns = self.takedowns.for_case(s, row, now)
        return render(view=view, month=month, events=events, takedowns=takedowns, now=now)

    # -- face alert (opt-in) ---------------------------------------------------------

    def register_face(self, *, number: str, pin: str, embedding: Sequence[float]) -> int:
        """Keep a face embedding for the case (never the selfie); returns its id."""
        from haechi.victims import faces

        clean = faces.check_embedding(embedding)
        case_id = self._open(number, pin, "victim_face_register")
        with self.engine.db.session() as s:
            return faces.register(s, records.get_case_row(s, case_id), clean)

    def remove_faces(self, *, number: str, pin: str) -> int:
        from haechi.victims.models import VictimFace

        case_id = self._open(number, pin, "victim_face_remove")
        with self.engine.db.session() as s:
            rows = s.scalars(select(VictimFace).where(VictimFace.case_id == case_id)).all()
            for row in rows:
                s.delete(row)
            return len(rows)

    def has_faces(self) -> bool:
        """Whether any active case registered a face (so uploads are worth embedding)."""
        with self.engine.db.session() as s:
            return s.scalar(
                select(VictimFace.id).join(VictimCase, VictimCase.id == VictimFace.case_id)
                .where(VictimCase.status == "active").limit(1)) is not None

    def face_alert(self, *, embeddings: Sequence[Sequence[float]], service: str) -> list[str]:
        """For sexual content whose faces were embedded: the cases whose registered face
        it shows. Each is counted PendingReview (the caller holds the upload for review)
        and alerted. Meant to be called by moderation when its sexual detector fires."""
        from haechi.victims import faces

        now = self.now()
        with self.engine.db.session() as s:
            found = faces.matching_cases(s, embeddings)
            numbers = []
            for case_id, distance in sorted(found.items()):
                s.add(VictimBlock(case_id=case_id, service=(service or "unknown")[:200],
                                  outcome="pending_review", signal="face",
                                  distance=round(distance * 100), at=now))
                records.raise_alert(s, case_id, now)
                numbers.append(records.get_case_row(s, case_id).number)
            return numbers

    # -- alerts ----------------------------------------------------------------------

    def alerts(self, *, organisation: str | None, pending: bool = True,
               limit: int = 100) -> list[AlertInfo]:
        """Undelivered alerts of new blocks, minors' cases first, then oldest."""
        if not 1 <= limit <= 1000:
            raise InvalidRequestError("limit must be 1..1000")
        query = (select(VictimAlert, VictimCase)
                 .join(VictimCase, VictimCase.id == VictimAlert.case_id)
                 .order_by(VictimCase.priority, VictimAlert.first_at, VictimAlert.id)
                 .limit(limit))
        if pending:
            query = query.where(VictimAlert.delivered_at.is_(None))
        if organisation is not None:
            query = query.where(VictimCase.organisation == organisation)
        with self.engine.db.session() as s:
            return [records.alert_info(a, c) for a, c in s.execute(query)]

    def alert_delivered(self, *, alert_id: int, organisation: str | None,
                        actor: str) -> AlertInfo:
        now = self.now()
        with self.engine.db.session() as s:
            found = s.execute(select(VictimAlert, VictimCase)
                              .join(VictimCase, VictimCase.id == VictimAlert.case_id)
                              .where(VictimAlert.id == alert_id)).first()
            if found is None or (organisation is not None
                                 and found[1].organisation != organisation):
                raise NotFoundError(f"no alert {alert_id} in this organisation")
            alert, case = found
            if alert.delivered_at is None:
                alert.delivered_at, alert.delivered_by = now, actor[:200]
                audit.record(s, actor=actor, action="victim_alert_delivered",
                             target=f"case {case.number}", now=now, blocks=alert.blocks)
            return records.alert_info(alert, case)

    # -- interop ---------------------------------------------------------------------

    def export(self, *, fmt: str, organisation: str | None = None) -> list[str]:
        """``stopncii``: one JSON case per line with StopNCII's case and feedback states;
        ``threatexchange``: python-threatexchange lines of the hashes blocking now."""
        from haechi.victims import interop

        with self.engine.db.session() as s:
            if fmt == "stopncii":
                return list(interop.stopncii_cases(s, organisation))
            if fmt == "threatexchange":
                return list(interop.threatexchange_lines(s, organisation))
        raise InvalidRequestError("format is stopncii or threatexchange")

    # -- advocates -------------------------------------------------------------------

    def assign_advocate(self, *, api_key_id: int, organisation: str, actor: str) -> None:
        organisation = organisation.strip()
        if not 1 <= len(organisation) <= 100 or "\x00" in organisation:
            raise InvalidRequestError("an organisation is named by 1-100 characters")
        with self.engine.db.session() as s:
            row = s.scalar(select(VictimAdvocate).where(VictimAdvocate.api_key_id == api_key_id))
            if row is None:
                s.add(VictimAdvocate(api_key_id=api_key_id, organisation=organisation))
            else:
                row.organisation = organisation
            audit.record(s, actor=actor, action="victim_advocate_assign",
                         target=f"key {api_key_id}", now=self.now(), organisation=organisation)

    def organisation_of(self, *, api_key_id: int) -> str | None:
        with self.engine.db.session() as s:
            return s.scalar(select(VictimAdvocate.organisation)
                            .where(VictimAdvocate.api_key_id == api_key_id))

    def list_cases(self, *, organisation: str | None, status: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[AdvocateCaseView]:
        """Cases of ``organisation`` (None: all), highest priority first, then oldest."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidRequestError("limit must be 1..1000 and offset >= 0")
        query = select(VictimCase).order_by(VictimCase.priority, VictimCase.created_at,
                                            VictimCase.id).limit(limit).offset(offset)
        if organisation is not None:
            query = query.where(VictimCase.organisation == organisation)
        if status is not None:
            query = query.where(VictimCase.status == status)
        now = self.now()
        with self.engine.db.session() as s:
            return [advocate_view(s, r, now) for r in s.scalars(query)]

    def get_case(self, *, number: str, organisation: str | None,
                 actor: str) -> AdvocateCaseView:
        now = self.now()
        with self.engine.db.session() as s:
            row = records.case_for(s, number, organisation)
            audit.record(s, actor=actor, action="victim_case_read", target=f"case {row.number}",
                         now=now)
            return advocate_view(s, row, now)

    def withdraw_for_victim(self, *, number: str, organisation: str | None,
                            actor: str) -> CaseView:
        """An advocate withdraws a case on the victim's request (audited)."""
        with self.engine.db.session() as s:
            case_id = records.case_for(s, number, organisation).id
        return self._end(case_id, "withdrawn", actor=actor)


_SERVICES: weakref.WeakKeyDictionary[Engine, VictimsService] = weakref.WeakKeyDictionary()
_SERVICES_LOCK = threading.Lock()


def service_for(engine: Engine) -> VictimsService:
    """The engine's victims service: its ``victims`` attribute when it has one, else one
    made on first use and kept for the engine's lifetime."""
    attached = getattr(engine, "victims", None)
    if isinstance(attached, VictimsService):
        return attached
    with _SERVICES_LOCK:
        svc = _SERVICES.get(engine)
        if svc is None:
            svc = _SERVICES[engine] = VictimsService(engine)
        return svc
