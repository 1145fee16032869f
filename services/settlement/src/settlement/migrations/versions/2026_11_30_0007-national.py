"""The national interface: messages by msgid (the retry key), persons looked up by a hospital
(psn_no → ID number), what a visit adds to its admission record.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _hospital_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["hospital_id"], ["hospitals.id"], name=op.f(f"fk_{table}_hospital_id_hospitals")
    )


def upgrade() -> None:
    op.create_table(
        "national_messages",
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("msgid", sa.String(length=64), nullable=False),
        sa.Column("infno", sa.String(length=8), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("reversed_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        _hospital_fk("national_messages"),
        sa.PrimaryKeyConstraint("hospital_id", "msgid", name=op.f("pk_national_messages")),
    )
    op.create_index("ix_national_messages_visit", "national_messages", ["hospital_id", "mdtrt_id"])
    op.create_table(
        "national_persons",
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("psn_no", sa.String(length=32), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("psn_name", sa.String(length=64), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        _hospital_fk("national_persons"),
        sa.PrimaryKeyConstraint("hospital_id", "psn_no", name=op.f("pk_national_persons")),
    )
    op.create_table(
        "national_visits",
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=64), nullable=False),
        sa.Column("med_type", sa.String(length=8), nullable=True),
        sa.Column("insutype", sa.String(length=8), nullable=True),
        sa.Column("diagnoses", sa.Text(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        _hospital_fk("national_visits"),
        sa.PrimaryKeyConstraint("hospital_id", "mdtrt_id", name=op.f("pk_national_visits")),
    )


def downgrade() -> None:
    op.drop_table("national_visits")
    op.drop_table("national_persons")
    op.drop_index("ix_national_messages_visit", table_name="national_messages")
    op.drop_table("national_messages")
