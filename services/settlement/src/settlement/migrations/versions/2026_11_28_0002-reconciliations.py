"""Reconciliations and their mismatching rows; the report index on bills.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Money: NUMERIC(14, 2) yuan on PostgreSQL, integer fen on SQLite (no exact decimal type there).
MONEY = sa.Numeric(14, 2).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

# Carried by the report index on PostgreSQL so a year's fund report is an index-only scan.
REPORT_COLUMNS = [
    "setl_id",
    "hospital_id",
    "aid_class",
    "medfee_sumamt",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
]

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("begin_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("visit_type", sa.String(length=16), nullable=True),
        sa.Column("include_revoked", sa.Boolean(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("bill_count", sa.Integer(), nullable=False),
        sa.Column("mismatch_count", sa.Integer(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "kind IN ('summary', 'detail')", name=op.f("ck_reconciliations_kind_values")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_reconciliations_hospital_id_hospitals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index(
        "ix_reconciliations_hospital_created", "reconciliations", ["hospital_id", "created_at"]
    )
    op.create_index(
        "ix_reconciliations_matched_created", "reconciliations", ["matched", "created_at"]
    )
    op.create_table(
        "reconciliation_rows",
        sa.Column("reconciliation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("setl_id", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=1), nullable=False),
        sa.Column("visit_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("medfee_sumamt", MONEY, nullable=True),
        sa.Column("fund_pay_sumamt", MONEY, nullable=True),
        sa.Column("differences", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reconciliation_id"],
            ["reconciliations.id"],
            name=op.f("fk_reconciliation_rows_reconciliation_id_reconciliations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("reconciliation_id", "seq", name=op.f("pk_reconciliation_rows")),
    )
    op.create_index(
        "ix_bills_status_date",
        "bills",
        ["status", "setl_date"],
        postgresql_include=REPORT_COLUMNS,
    )


def downgrade() -> None:
    op.drop_index("ix_bills_status_date", table_name="bills")
    op.drop_table("reconciliation_rows")
    op.drop_index("ix_reconciliations_matched_created", table_name="reconciliations")
    op.drop_index("ix_reconciliations_hospital_created", table_name="reconciliations")
    op.drop_table("reconciliations")
