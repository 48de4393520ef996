"""Clients have a currency (ISO 4217, e.g. EUR): the unit of their spend and conversion values; unset for existing
clients until an operator sets it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, never Alembic's batch mode: on SQLite a batch rebuilds ``clients`` (copy, drop, rename), and
# with foreign keys on, dropping it cascades into ``api_keys`` and ``goals`` — every key and goal would be lost.


def upgrade() -> None:
    op.add_column("clients", sa.Column("currency", sa.String(3), nullable=True))


def downgrade() -> None:
    op.drop_column("clients", "currency")  # SQLite ≥ 3.35 drops a column in place
