"""Drop ``ix_bills_status``: an index on a column of two values, written on every settle and
revoke and useful to no query. On a table without statistics the planner chose it for the
settle's per-person reads (the stay check, the supervision rules' history) and then filtered
every settled bill; those reads belong on ``ix_bills_person_year`` and
``ix_bills_hospital_visit``. Reports keep ``ix_bills_status_date``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_bills_status", table_name="bills")


def downgrade() -> None:
    op.create_index("ix_bills_status", "bills", ["status"], unique=False)
