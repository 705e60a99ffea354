"""Moderation tables: platform users and rooms, uploaded items, strikes, the review
queue, appeals, user notices, action events, public notices, statements of reasons and
webhooks.

Tables reference banks by name, never by foreign key: a bank may be deleted and the
moderation record of what happened must survive it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from haechi.store.models import Base, utcnow


class ModUser(Base):
    """A user of the platform, by the platform's own id."""

    __tablename__ = "mod_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    banned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ban_reason: Mapped[str] = mapped_column(Text, default="")


class ModRoom(Base):
    """A room, channel or group of the platform, by the platform's own id."""

    __tablename__ = "mod_rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModMembership(Base):
    """A user seen posting in a room: where a platform-wide ban must be applied."""

    __tablename__ = "mod_memberships"
    __table_args__ = (UniqueConstraint("user_id", "room_id", name="uq_mod_membership"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("mod_users.id", ondelete="CASCADE"),
                                         index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("mod_rooms.id", ondelete="CASCADE"))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModItem(Base):
    """One upload and what was decided about it."""

    __tablename__ = "mod_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("mod_users.id", ondelete="CASCADE"),
                                         index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("mod_rooms.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500), default="")
    media_kind: Mapped[str] = mapped_column(String(16), default="")
    #: [{"signal", "version", "value", "quality"}]: what confirm adds to a bank.
    hashes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    detections: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    #: The policy decision: action, rule, reason, matched rules, explanation.
    decision: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    action: Mapped[str] = mapped_column(String(16))
    #: published, restricted, removed, held, reinstated
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(100), default="")
    #: Bank entries created from this item when a reviewer confirmed it.
    bank_entry_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModStrike(Base):
    __tablename__ = "mod_strikes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("mod_users.id", ondelete="CASCADE"),
                                         index=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("mod_items.id", ondelete="SET NULL"), nullable=True, index=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    category: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lifted_reason: Mapped[str] = mapped_column(Text, default="")


class ModUserNotice(Base):
    """What the user was told: the first-offence warning, strikes, bans, reinstatements."""

    __tablename__ = "mod_user_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("mod_users.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModReview(Base):
    """An item in the review queue. ``state``: pending, decided. A pending row with an
    unexpired lease is claimed by ``claimed_by``."""

    __tablename__ = "mod_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mod_items.id", ondelete="CASCADE"),
                                         unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Every step (claim, escalate, decide) with who, when and why.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


# The claim query and the pending page read this index in order: state, then priority
# highest first, then oldest first. Declared DESC so neither database sorts.
Index("ix_mod_reviews_queue", ModReview.state, ModReview.priority.desc(),
      ModReview.created_at, ModReview.id)


class ModAppeal(Base):
    __tablename__ = "mod_appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mod_items.id", ondelete="CASCADE"),
                                         index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("mod_users.id", ondelete="CASCADE"))
    statement: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModEvent(Base):
    """An action the platform must carry out (delete_item, warn_user, ban_user, ...).

    The outbox of webhook delivery: written in the same transaction as the decision, so
    an action is never decided without its event, nor announced without being decided.
    """

    __tablename__ = "mod_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: A UUID, sent as the idempotency key: receivers drop repeats by it.
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModStatement(Base):
    """A statement of reasons (EU DSA art. 17) in the Transparency Database's fields."""

    __tablename__ = "mod_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModNotice(Base):
    """A public report of abusive content (DSA art. 16 notice, TAKE IT DOWN request)."""

    __tablename__ = "mod_notices"
    __table_args__ = (Index("ix_mod_notices_open_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100), default="")
    contact: Mapped[str] = mapped_column(String(320), default="")
    is_victim: Mapped[bool] = mapped_column(Boolean, default=False)
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str] = mapped_column(String(32), default="")
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModWebhook(Base):
    __tablename__ = "mod_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    #: The HMAC key. It must be readable to sign with; keep the database private.
    secret: Mapped[str] = mapped_column(String(100))
    #: Event types delivered; empty means all.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModDelivery(Base):
    """One event to one endpoint: the delivery log and the retry schedule."""

    __tablename__ = "mod_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id", name="uq_mod_delivery"),
        Index("ix_mod_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("mod_events.id", ondelete="CASCADE"))
    webhook_id: Mapped[int] = mapped_column(ForeignKey("mod_webhooks.id", ondelete="CASCADE"),
                                            index=True)
    #: pending, delivered, failed (gave up)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)
    #: Every attempt: when, HTTP status or error, duration.
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ModAccount(Base):
    """A person (or service) using the reviewer pages: admin, reviewer, investigator,
    victim advocate, platform service."""

    __tablename__ = "mod_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    #: argon2id, in the PHC string format (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    #: Whether this account may reveal sensitive media; off until an admin grants it.
    can_reveal: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModSession(Base):
    __tablename__ = "mod_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: SHA-256 of the cookie value; the value itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mod_accounts.id", ondelete="CASCADE"),
                                            index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ModAudit(Base):
    """Append-only: every decision and every reveal of sensitive media, by whom."""

    __tablename__ = "mod_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ModHeldMedia(Base):
    """The bytes of a held upload, AES-GCM encrypted, kept only until it is decided:
    reviewers must see what they judge, and nobody should need it afterwards."""

    __tablename__ = "mod_held_media"

    item_id: Mapped[int] = mapped_column(ForeignKey("mod_items.id", ondelete="CASCADE"),
                                         primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100), default="")
