"""Webhooks: signed, timestamped action events, delivered at least once.

Each request carries ``Haechi-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`` and ``Idempotency-Key: <event uid>``; a receiver checks the signature
and the age of ``t`` (replays) and drops keys it has seen (retries). A delivery that
fails is retried with exponential back-off until ``MAX_ATTEMPTS``; every attempt is
logged on the delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from haechi.errors import InvalidRequestError, NotFoundError
from haechi.moderation.events import EVENT_TYPES
from haechi.moderation.models import ModDelivery, ModEvent, ModWebhook
from haechi.moderation.records import aware
from haechi.moderation.schemas import DeliveryInfo, WebhookInfo

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=10)
MAX_DELAY = timedelta(hours=1)
#: While one worker is sending a delivery, others leave it alone this long.
SENDING_LEASE = timedelta(minutes=2)
SIGNATURE_TOLERANCE_S = 300


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... capped at an hour."""
    delay: timedelta = BASE_DELAY * (2 ** max(0, attempts - 1))
    return delay if delay < MAX_DELAY else MAX_DELAY


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """For receivers: the signature is ours and no older than ``tolerance_s``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split(",", 1)[1]
    return hmac.compare_digest(expected, "v1=" + parts.get("v1", ""))


def register(s: Session, *, url: str, events: list[str], now: datetime) -> tuple[ModWebhook,
                                                                                 str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise InvalidRequestError("a webhook URL is http(s)://host/... (at most 2000 "
                                  "characters)")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidRequestError(f"unknown event types {unknown}; use {list(EVENT_TYPES)}")
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = ModWebhook(url=url, secret=secret, events=sorted(set(events)), created_at=now)
    s.add(row)
    s.flush()
    return row, secret


def webhook_info(row: ModWebhook) -> WebhookInfo:
    return WebhookInfo(id=row.id, url=row.url, events=list(row.events), enabled=row.enabled,
                       created_at=aware(row.created_at))


def body_of(event: ModEvent) -> bytes:
    return json.dumps({"id": event.uid, "type": event.type,
                       "created_at": aware(event.created_at).isoformat(),
                       "data": event.payload}, separators=(",", ":"),
                      sort_keys=True).encode()


@dataclass(frozen=True)
class Job:
    delivery_id: int
    url: str
    secret: str
    uid: str
    body: bytes


def take_due(s: Session, *, now: datetime, limit: int) -> list[Job]:
    """Due deliveries, leased to this worker for ``SENDING_LEASE``."""
    query = (select(ModDelivery, ModWebhook, ModEvent)
             .join(ModWebhook, ModWebhook.id == ModDelivery.webhook_id)
             .join(ModEvent, ModEvent.id == ModDelivery.event_id)
             .where(ModDelivery.state == "pending", ModDelivery.next_attempt_at <= now,
                    ModWebhook.enabled.is_(True))
             .order_by(ModDelivery.next_attempt_at, ModDelivery.id).limit(limit))
    if s.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=ModDelivery, skip_locked=True)
    jobs = []
    for delivery, hook, event in s.execute(query):
        delivery.next_attempt_at = now + SENDING_LEASE
        jobs.append(Job(delivery.id, hook.url, hook.secret, event.uid, body_of(event)))
    return jobs


def send(client: httpx.Client, job: Job, *, unix_time: int) -> tuple[int | None, str, float]:
    """POST one delivery: (HTTP status or None, error text, seconds taken)."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": job.uid,
               "Haechi-Event-Id": job.uid, "Haechi-Timestamp": str(unix_time),
               "Haechi-Signature": sign(job.secret, unix_time, job.body),
               "User-Agent": "haechi-webhooks"}
    t0 = time.perf_counter()
    try:
        response = client.post(job.url, content=job.body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], time.perf_counter() - t0
    error = "" if response.is_success else f"HTTP {response.status_code}"
    return response.status_code, error, time.perf_counter() - t0


def record(s: Session, *, delivery_id: int, status: int | None, error: str, seconds: float,
           now: datetime) -> str:
    """Store an attempt's outcome; returns the delivery's new state."""
    row = s.get(ModDelivery, delivery_id)
    if row is None:  # its webhook was deleted meanwhile
        return "gone"
    row.attempts += 1
    row.last_status, row.last_error = status, error
    row.log = [*row.log, {"attempt": row.attempts, "at": now.isoformat(), "status": status,
                          "error": error, "ms": round(seconds * 1000, 1)}]
    if not error:
        row.state, row.delivered_at = "delivered", now
    elif row.attempts >= MAX_ATTEMPTS:
        row.state = "failed"
    else:
        row.next_attempt_at = now + backoff(row.attempts)
    return row.state


def delivery_info(row: ModDelivery, event: ModEvent) -> DeliveryInfo:
    return DeliveryInfo(
        id=row.id, event_uid=event.uid, event_type=event.type, webhook_id=row.webhook_id,
        state=row.state, attempts=row.attempts, next_attempt_at=aware(row.next_attempt_at),
        last_status=row.last_status, last_error=row.last_error,
        delivered_at=aware(row.delivered_at) if row.delivered_at else None,
        log=list(row.log))


def deliveries(s: Session, *, webhook_id: int | None, state: str | None,
               limit: int) -> list[DeliveryInfo]:
    query = select(ModDelivery, ModEvent).join(ModEvent, ModEvent.id == ModDelivery.event_id)
    if webhook_id is not None:
        query = query.where(ModDelivery.webhook_id == webhook_id)
    if state is not None:
        query = query.where(ModDelivery.state == state)
    rows = s.execute(query.order_by(ModDelivery.id.desc()).limit(limit))
    return [delivery_info(d, e) for d, e in rows]


def set_enabled(s: Session, *, webhook_id: int, enabled: bool) -> ModWebhook:
    row = s.get(ModWebhook, webhook_id)
    if row is None:
        raise NotFoundError(f"no webhook {webhook_id}")
    row.enabled = enabled
    return row

