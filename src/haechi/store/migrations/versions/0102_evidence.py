"""evidence: vault blobs, items, cases, custody log, checkpoints

Revision ID: 0102
Revises: 0001
Create Date: 2026-11-25 15:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0102"
down_revision = "0001"
branch_labels = ("evidence",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kek_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_evidence_blobs_kek_id", "evidence_blobs", ["kek_id"])

    op.create_table(
        "evidence_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("derived_from", sa.Integer(), nullable=True),
        sa.Column("derivation", sa.Text(), nullable=False),
        sa.Column("capture_key", sa.String(length=400), nullable=True),
        sa.Column("filename", sa.String(length=400), nullable=False),
        sa.Column("media_format", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("room", sa.String(length=400), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capturer", sa.String(length=200), nullable=False),
        sa.Column("capture", sa.Text(), nullable=False),
        sa.Column("scan", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sha256"], ["evidence_blobs.sha256"]),
        sa.ForeignKeyConstraint(["derived_from"], ["evidence_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("capture_key"),
    )
    op.create_index("ix_evidence_items_sha256", "evidence_items", ["sha256"])
    op.create_index("ix_evidence_items_derived_from", "evidence_items", ["derived_from"])
    op.create_index("ix_evidence_items_service", "evidence_items", ["service"])

    op.create_table(
        "evidence_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "evidence_case_items",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["evidence_cases.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["evidence_items.id"]),
        sa.PrimaryKeyConstraint("case_id", "item_id"),
    )
    op.create_index("ix_evidence_case_items_item_id", "evidence_case_items", ["item_id"])

    op.create_table(
        "evidence_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_evidence_log_item_id", "evidence_log", ["item_id"])
    op.create_index("ix_evidence_log_case_id", "evidence_log", ["case_id"])

    head = op.create_table(
        "evidence_log_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0}])

    op.create_table(
        "evidence_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("timestamp_token", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_checkpoints_size", "evidence_checkpoints", ["size"])


def downgrade() -> None:
    for table in ("evidence_checkpoints", "evidence_log_head", "evidence_log",
                  "evidence_case_items", "evidence_cases", "evidence_items", "evidence_blobs"):
        op.drop_table(table)
