"""Conversion goals per client.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(63), sa.ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("match", sa.String(200), nullable=True),
        sa.Column("path", sa.String(200), nullable=True),
        sa.Column("min_value", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "name", name="uq_goals_client_id_name"),
    )
    op.create_index("ix_goals_client_id", "goals", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_goals_client_id", table_name="goals")
    op.drop_table("goals")
