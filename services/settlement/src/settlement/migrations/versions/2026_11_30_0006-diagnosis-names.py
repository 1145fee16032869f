"""Diagnosis names: a bill keeps the names (诊断名称) the hospital sent with its diagnoses.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # JSON list aligned with ``diagnoses`` (null where no name was sent); NULL on bills
    # without any name, which is every bill settled before this revision. A plain ADD COLUMN
    # (no table rebuild on SQLite).
    op.add_column("bills", sa.Column("diagnosis_names", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("bills", "diagnosis_names")
