"""regions: hashes of parts of banked images, and the banks' region-matching settings

Revision ID: 0109
Revises: 0001
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0109"
down_revision = "0001"
branch_labels = ("regions",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("x0", sa.Integer(), nullable=False),
        sa.Column("y0", sa.Integer(), nullable=False),
        sa.Column("x1", sa.Integer(), nullable=False),
        sa.Column("y1", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["bank_entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_entry_regions_entry_id", "entry_regions", ["entry_id"])
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("regions_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("region_threshold", sa.Integer(), nullable=False,
                                   server_default="28"))


def downgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("region_threshold")
        batch.drop_column("regions_enabled")
    op.drop_index("ix_entry_regions_entry_id", table_name="entry_regions")
    op.drop_table("entry_regions")
