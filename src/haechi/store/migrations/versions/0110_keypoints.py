"""keypoints: local features of banked images; face windows leave the region layer

Revision ID: 0110
Revises: 0109
Create Date: 2026-11-25 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0110"
down_revision = "0109"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_keypoints",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["bank_entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("region_min_inliers", sa.Integer(), nullable=False,
                                   server_default="30"))
    # Slots 6 and 7 held aligned faces; keypoints cover what they caught (and more), so
    # nothing reads them any longer.
    op.execute("DELETE FROM entry_regions WHERE slot >= 6")


def downgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("region_min_inliers")
    op.drop_table("entry_keypoints")
