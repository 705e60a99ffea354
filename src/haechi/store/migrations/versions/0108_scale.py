"""scale: back-scan jobs, their items with stored hashes and matches, and the
retro-hunt's position in the change feed

Revision ID: 0108
Revises: 0001
Create Date: 2026-11-25 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0108"
down_revision = "0001"
branch_labels = ("scale",)
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backscan_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "backscan_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("uri_key", sa.String(length=64), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("media_kind", sa.String(length=16), nullable=True),
        sa.Column("bytes", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("vpdq", sa.Text(), nullable=True),
        sa.Column("detections", sa.JSON(), nullable=False),
        sa.Column("detection_error", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("match_count", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["backscan_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "uri_key", name="uq_backscan_item_job_uri"),
    )
    op.create_index("ix_backscan_items_job_id", "backscan_items", ["job_id"])
    op.create_index("ix_backscan_items_sha256", "backscan_items", ["sha256"])
    op.create_index("ix_backscan_items_md5", "backscan_items", ["md5"])
    op.create_table(
        "backscan_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("bank", sa.String(length=100), nullable=False),
        sa.Column("signal", sa.String(length=40), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("query_share", sa.Float(), nullable=True),
        sa.Column("entry_share", sa.Float(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["backscan_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "entry_id", "signal", name="uq_backscan_match"),
    )
    op.create_index("ix_backscan_matches_item_id", "backscan_matches", ["item_id"])
    op.create_index("ix_backscan_matches_entry_id", "backscan_matches", ["entry_id"])
    op.create_table(
        "scale_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    for table in ("scale_cursors", "backscan_matches", "backscan_items", "backscan_jobs"):
        op.drop_table(table)
