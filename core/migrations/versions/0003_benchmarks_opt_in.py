"""Clients opt in to cross-client benchmarks (off by default, also for existing clients).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never Alembic's batch mode: on SQLite a batch rebuilds ``clients`` (copy, drop, rename), and
# with foreign keys on, dropping it cascades into ``api_keys`` and ``goals`` — every key and goal would be lost.


def upgrade() -> None:
    op.add_column(
        "clients",
        sa.Column("benchmarks_opt_in", sa.Boolean(create_constraint=False), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("clients", "benchmarks_opt_in")  # SQLite ≥ 3.35 drops a column in place
