"""One stay at a time (exclusion constraint on PostgreSQL), interim parts of a stay, fee lines
uploaded in batches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

MONEY = sa.Numeric(14, 2).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTLED_FINAL = "status = 'settled' AND NOT interim"


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild on SQLite, where bills has rows referring to it).
    op.add_column(
        "bills", sa.Column("interim", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.drop_index("uq_bills_settled_visit", table_name="bills")
    op.create_index(
        "uq_bills_settled_visit",
        "bills",
        ["hospital_id", "visit_id"],
        unique=True,
        postgresql_where=sa.text(SETTLED_FINAL),
        sqlite_where=sa.text(SETTLED_FINAL),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE bills ADD CONSTRAINT ex_bills_inpatient_stay EXCLUDE USING gist ("
            " id_number WITH =,"
            " daterange(admitted_on, discharged_on) WITH &&,"
            " (hospital_id::text || ':' || visit_id) WITH <>"
            ") WHERE (visit_type = 'inpatient' AND status = 'settled')"
        )
    op.create_table(
        "fee_details",
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=64), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("uploaded_at", TIMESTAMP, nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_fee_details_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint(
            "hospital_id", "visit_id", "feedetl_sn", name=op.f("pk_fee_details")
        ),
    )
    op.create_index("ix_fee_details_visit_seq", "fee_details", ["hospital_id", "visit_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_fee_details_visit_seq", table_name="fee_details")
    op.drop_table("fee_details")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bills DROP CONSTRAINT ex_bills_inpatient_stay")
    op.drop_index("uq_bills_settled_visit", table_name="bills")
    op.create_index(
        "uq_bills_settled_visit",
        "bills",
        ["hospital_id", "visit_id"],
        unique=True,
        postgresql_where=sa.text("status = 'settled'"),
        sqlite_where=sa.text("status = 'settled'"),
    )
    op.drop_column("bills", "interim")
