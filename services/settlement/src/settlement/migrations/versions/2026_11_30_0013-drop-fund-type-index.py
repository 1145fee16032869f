"""Drop ``ix_bill_funds_fund_pay_type``: written for every fund row of every settle and
revoke, read by no query. The fund report groups by fund on
``ix_bill_funds_date_fund (setl_date, fund_pay_type)`` (migration 0012); every other read of
``bill_funds`` is by ``setl_id`` (the primary key).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_bill_funds_fund_pay_type", table_name="bill_funds")


def downgrade() -> None:
    op.create_index("ix_bill_funds_fund_pay_type", "bill_funds", ["fund_pay_type"], unique=False)
