"""tracking: rooms, users, media and messages from ingested chats

Revision ID: 0103
Revises: 0001
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0103"
down_revision = "0001"
branch_labels = ("tracking",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tracking_rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service", "chat_id", name="uq_tracking_room"),
    )
    op.create_table(
        "tracking_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("user_key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service", "user_key", name="uq_tracking_user"),
    )
    op.create_table(
        "tracking_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_key", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("vpdq", sa.Text(), nullable=True),
        sa.Column("file_unique_id", sa.String(length=200), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_detail", sa.Text(), nullable=False),
        sa.Column("error_code", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_key"),
    )
    op.create_index("ix_tracking_media_file_unique_id", "tracking_media", ["file_unique_id"])
    op.create_table(
        "tracking_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("chat_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_key", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=True),
        sa.Column("file_unique_id", sa.String(length=200), nullable=True),
        sa.Column("is_forward", sa.Boolean(), nullable=False),
        sa.Column("fwd_user_key", sa.String(length=200), nullable=True),
        sa.Column("fwd_chat_id", sa.String(length=100), nullable=True),
        sa.Column("fwd_message_id", sa.BigInteger(), nullable=True),
        sa.Column("fwd_name", sa.String(length=300), nullable=False),
        sa.Column("reply_to", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["tracking_media.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service", "chat_id", "message_id", name="uq_tracking_message"),
    )
    op.create_index("ix_tracking_messages_user", "tracking_messages", ["service", "user_key"])
    op.create_index("ix_tracking_messages_sent_at", "tracking_messages", ["sent_at"])
    op.create_index("ix_tracking_messages_media_id", "tracking_messages", ["media_id"])


def downgrade() -> None:
    op.drop_table("tracking_messages")
    op.drop_table("tracking_media")
    op.drop_table("tracking_users")
    op.drop_table("tracking_rooms")
