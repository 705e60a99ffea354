"""The notice desk and the webhook dispatcher, reached as ``service.notices`` and
``service.webhooks`` so the main service stays about uploads, reviews and appeals."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select

from haechi.errors import InvalidRequestError
from haechi.moderation import accounts, audit, enforcement, notices, records, statements, webhooks
from haechi.moderation.events import emit
from haechi.moderation.models import ModAccount, ModUser, ModWebhook
from haechi.moderation.schemas import (
    DeliveryInfo,
    DeliveryReport,
    NoticeInfo,
    NoticeMetrics,
    NoticeReceipt,
    WebhookInfo,
)

if TYPE_CHECKING:
    from haechi.moderation.service import ModerationService


class NoticeDesk:
    def __init__(self, service: ModerationService) -> None:
        self._svc = service

    def submit(self, *, location: str, explanation: str, good_faith: bool,
               category: str = "", contact: str = "", is_victim: bool = False,
               item_id: int | None = None) -> NoticeReceipt:
        """Open a case; anyone may call this (the API route has no key)."""
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            row = notices.submit(s, location=location, explanation=explanation,
                                 good_faith=good_faith, category=category, contact=contact,
                                 is_victim=is_victim, item_id=item_id, now=now)
            return NoticeReceipt(id=row.id, received_at=now, due_at=now + notices.DEADLINE)

    def cases(self, *, state: str = "open", limit: int = 50,
             offset: int = 0) -> list[NoticeInfo]:
        """Open cases: overdue first, then by deadline."""
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            return [notices.info(r, now) for r in
                    notices.listing(s, state=state, limit=limit, offset=offset)]

    def resolve(self, *, notice_id: int, reviewer: str, outcome: str, reason: str,
                item_id: int | None = None) -> NoticeInfo:
        """Close a case. ``removed`` with an item removes it (source: a notice), strikes
        the uploader and tells the platform."""
        now = self._svc.now()
        policy = self._svc.policy.policy
        with self._svc.engine.db.session() as s:
            row = notices.close(s, notice_id=notice_id, outcome=outcome, reason=reason,
                                item_id=item_id, now=now)
            audit.record(s, actor=reviewer, action=f"notice_{outcome}",
                         target=f"notice {notice_id}", now=now, item=row.item_id,
                         reason=reason)
            if outcome == "removed" and row.item_id is not None:
                item = records.get_item(s, row.item_id)
                user = s.get(ModUser, item.user_id)
                assert user is not None
                if item.status != "removed":
                    item.status, item.action = "removed", "block"
                    item.category = item.category or row.category
                    emit(s, "delete_item", {
                        "item_id": item.id, "user_id": user.platform_id,
                        "room_id": records.item_info(s, item).room_id, "rule": "notice",
                        "reason": f"notice {row.id}: {row.outcome_reason}",
                        "category": item.category}, now)
                    statements.record(
                        s, item=item, user_id=user.id, now=now,
                        visibility="DECISION_VISIBILITY_CONTENT_REMOVED", account=None,
                        facts=f"Reported in notice {row.id}; {row.outcome_reason}",
                        category=item.category, synthetic=False, automated_detection=False,
                        automated_decision="AUTOMATED_DECISION_NOT_AUTOMATED",
                        source_type="SOURCE_ARTICLE_16")
                    if user.banned_at is None:
                        enforcement.record_offence(
                            s, policy=policy, user=user, item=item, weight=1.0,
                            category=item.category,
                            severe=item.category in policy.severe_categories,
                            reason=f"notice {row.id}: {row.outcome_reason}", now=now,
                            automated=False)
            s.flush()
            return notices.info(row, now)

    def metrics(self) -> NoticeMetrics:
        with self._svc.engine.db.session() as s:
            return notices.metrics(s, self._svc.now())


class WebhookDispatcher:
    def __init__(self, service: ModerationService,
                 client_factory: Callable[[], httpx.Client] | None = None) -> None:
        self._svc = service
        self._client_factory = client_factory or (lambda: httpx.Client(timeout=5.0))

    def register(self, *, url: str, events: list[str] | None = None) -> tuple[WebhookInfo,
                                                                             str]:
        """Register an endpoint; returns it and its signing secret (shown only now)."""
        with self._svc.engine.db.session() as s:
            row, secret = webhooks.register(s, url=url, events=events or [],
                                            now=self._svc.now())
            return webhooks.webhook_info(row), secret

    def endpoints(self) -> list[WebhookInfo]:
        with self._svc.engine.db.session() as s:
            return [webhooks.webhook_info(r)
                    for r in s.scalars(select(ModWebhook).order_by(ModWebhook.id))]

    def set_enabled(self, *, webhook_id: int, enabled: bool) -> WebhookInfo:
        with self._svc.engine.db.session() as s:
            return webhooks.webhook_info(
                webhooks.set_enabled(s, webhook_id=webhook_id, enabled=enabled))

    def deliver_due(self, *, limit: int = 100) -> DeliveryReport:
        """Send what is due now. Safe to run from several workers at once."""
        if not 1 <= limit <= 10_000:
            raise InvalidRequestError("limit must be 1..10000")
        report = DeliveryReport()
        with self._svc.engine.db.session() as s:
            jobs = webhooks.take_due(s, now=self._svc.now(), limit=limit)
        if not jobs:
            return report
        with self._client_factory() as client:
            for job in jobs:
                now = self._svc.now()
                status, error, seconds = webhooks.send(client, job,
                                                       unix_time=int(now.timestamp()))
                with self._svc.engine.db.session() as s:
                    state = webhooks.record(s, delivery_id=job.delivery_id, status=status,
                                            error=error, seconds=seconds, now=now)
                report.attempted += 1
                if state == "delivered":
                    report.delivered += 1
                elif state == "failed":
                    report.failed += 1
                elif state == "pending":
                    report.retrying += 1
        return report

    def deliveries(self, *, webhook_id: int | None = None, state: str | None = None,
                   limit: int = 100) -> list[DeliveryInfo]:
        if not 1 <= limit <= 1000:
            raise InvalidRequestError("limit must be 1..1000")
        with self._svc.engine.db.session() as s:
            return webhooks.deliveries(s, webhook_id=webhook_id, state=state, limit=limit)



class AccountDesk:
    """Accounts and sessions for the reviewer pages."""

    def __init__(self, service: ModerationService) -> None:
        self._svc = service

    def create(self, *, username: str, password: str, role: str,
               can_reveal: bool = False) -> accounts.AccountInfo:
        with self._svc.engine.db.session() as s:
            return accounts.create(s, username=username, password=password, role=role,
                                   can_reveal=can_reveal)

    def login(self, *, username: str, password: str) -> tuple[str, accounts.SessionInfo]:
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            token, session = accounts.login(s, username=username, password=password, now=now)
            audit.record(s, actor=username, action="login", target=username, now=now)
            return token, session

    def session(self, *, token: str) -> accounts.SessionInfo | None:
        with self._svc.engine.db.session() as s:
            return accounts.session_for(s, token=token, now=self._svc.now())

    def logout(self, *, token: str) -> None:
        with self._svc.engine.db.session() as s:
            accounts.logout(s, token=token)

    def set_reveal(self, *, username: str, can_reveal: bool, actor: str) -> accounts.AccountInfo:
        now = self._svc.now()
        with self._svc.engine.db.session() as s:
            audit.record(s, actor=actor, action="grant_reveal" if can_reveal else
                         "revoke_reveal", target=username, now=now)
            return accounts.set_reveal(s, username=username, can_reveal=can_reveal)

    def all(self) -> list[accounts.AccountInfo]:
        with self._svc.engine.db.session() as s:
            return [accounts.account_info(r)
                    for r in s.scalars(select(ModAccount).order_by(ModAccount.id))]
