"""Initial schema: hospitals, admissions, bills and fund rows, running totals, grants, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Money: NUMERIC(14, 2) yuan on PostgreSQL, integer fen on SQLite (no exact decimal type there).
MONEY = sa.Numeric(14, 2).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

_APPEND_ONLY_PG = (
    """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
)
_APPEND_ONLY_SQLITE = tuple(
    f"""
    CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
    """
    for event in ("UPDATE", "DELETE")
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accumulators",
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.Column("bills", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id_number", "year", name=op.f("pk_accumulators")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in _APPEND_ONLY_PG if dialect == "postgresql" else _APPEND_ONLY_SQLITE:
        op.execute(statement)
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("balance", MONEY, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "balance >= 0 AND balance <= amount", name=op.f("ck_grants_balance_range")
        ),
        sa.CheckConstraint("valid_from <= valid_to", name=op.f("ck_grants_validity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint("reference", name="uq_grants_reference"),
    )
    op.create_index(op.f("ix_grants_id_number"), "grants", ["id_number"], unique=False)
    op.create_table(
        "hospitals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_hospitals_level_range")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hospitals")),
        sa.UniqueConstraint("api_key_hash", name="uq_hospitals_api_key_hash"),
        sa.UniqueConstraint("code", name="uq_hospitals_code"),
    )
    op.create_table(
        "admissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=64), nullable=False),
        sa.Column("visit_type", sa.String(length=16), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("patient_name", sa.String(length=64), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=False),
        sa.Column("eligibility_on", sa.Date(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("aid_class", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("deposit_free", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_admissions_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admissions")),
        sa.UniqueConstraint("hospital_id", "visit_id", name="uq_admissions_hospital_visit"),
    )
    op.create_index(op.f("ix_admissions_id_number"), "admissions", ["id_number"], unique=False)
    op.create_table(
        "bills",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=64), nullable=False),
        sa.Column("visit_type", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("patient_name", sa.String(length=64), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=False),
        sa.Column("acc_year", sa.Integer(), nullable=False),
        sa.Column("setl_time", TIMESTAMP, nullable=False),
        sa.Column("setl_date", sa.Date(), nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("hospital_level", sa.Integer(), nullable=False),
        sa.Column("aid_class", sa.String(length=16), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("eligibility_on", sa.Date(), nullable=False),
        sa.Column("eligibility_source", sa.String(length=16), nullable=False),
        sa.Column("diagnoses", sa.Text(), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("trace", sa.Text(), nullable=False),
        sa.Column("deltas", sa.Text(), nullable=False),
        sa.Column("medfee_sumamt", MONEY, nullable=False),
        sa.Column("fulamt_ownpay_amt", MONEY, nullable=False),
        sa.Column("overlmt_selfpay", MONEY, nullable=False),
        sa.Column("preselfpay_amt", MONEY, nullable=False),
        sa.Column("inscp_scp_amt", MONEY, nullable=False),
        sa.Column("act_pay_dedc", MONEY, nullable=False),
        sa.Column("hifp_pay", MONEY, nullable=False),
        sa.Column("hifmi_pay", MONEY, nullable=False),
        sa.Column("maf_pay", MONEY, nullable=False),
        sa.Column("oth_pay", MONEY, nullable=False),
        sa.Column("fund_pay_sumamt", MONEY, nullable=False),
        sa.Column("psn_cash_pay", MONEY, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.CheckConstraint("status IN ('settled', 'revoked')", name=op.f("ck_bills_status_values")),
        sa.CheckConstraint(
            "fund_pay_sumamt = hifp_pay + hifmi_pay + maf_pay + oth_pay",
            name=op.f("ck_bills_fund_split"),
        ),
        sa.CheckConstraint(
            "medfee_sumamt = fund_pay_sumamt + psn_cash_pay", name=op.f("ck_bills_medfee_split")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_bills_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_bills")),
        sa.UniqueConstraint("hospital_id", "idempotency_key", name="uq_bills_idempotency"),
    )
    op.create_index("ix_bills_hospital_date", "bills", ["hospital_id", "setl_date"], unique=False)
    op.create_index("ix_bills_hospital_time", "bills", ["hospital_id", "setl_time"], unique=False)
    op.create_index("ix_bills_hospital_visit", "bills", ["hospital_id", "visit_id"], unique=False)
    op.create_index("ix_bills_person_year", "bills", ["id_number", "acc_year"], unique=False)
    op.create_index("ix_bills_status", "bills", ["status"], unique=False)
    op.create_index(
        "uq_bills_settled_visit",
        "bills",
        ["hospital_id", "visit_id"],
        unique=True,
        postgresql_where=sa.text("status = 'settled'"),
        sqlite_where=sa.text("status = 'settled'"),
    )
    op.create_table(
        "bill_funds",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("fund_pay_type", sa.String(length=16), nullable=False),
        sa.Column("fund_pay_type_name", sa.String(length=64), nullable=False),
        sa.Column("setlinfo_field", sa.String(length=16), nullable=False),
        sa.Column("inscp_scp_amt", MONEY, nullable=False),
        sa.Column("crt_payb_lmt_amt", MONEY, nullable=True),
        sa.Column("fund_payamt", MONEY, nullable=False),
        sa.Column("setl_proc_info", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["bills.setl_id"], name=op.f("fk_bill_funds_setl_id_bills")
        ),
        sa.PrimaryKeyConstraint("setl_id", "seq", name=op.f("pk_bill_funds")),
    )
    op.create_index(
        op.f("ix_bill_funds_fund_pay_type"), "bill_funds", ["fund_pay_type"], unique=False
    )
    op.create_table(
        "grant_uses",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["grants.id"], name=op.f("fk_grant_uses_grant_id_grants")
        ),
        sa.ForeignKeyConstraint(
            ["setl_id"], ["bills.setl_id"], name=op.f("fk_grant_uses_setl_id_bills")
        ),
        sa.PrimaryKeyConstraint("setl_id", "grant_id", name=op.f("pk_grant_uses")),
    )
    op.create_index(op.f("ix_grant_uses_grant_id"), "grant_uses", ["grant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_grant_uses_grant_id"), table_name="grant_uses")
    op.drop_table("grant_uses")
    op.drop_index(op.f("ix_bill_funds_fund_pay_type"), table_name="bill_funds")
    op.drop_table("bill_funds")
    op.drop_index(
        "uq_bills_settled_visit",
        table_name="bills",
        postgresql_where=sa.text("status = 'settled'"),
        sqlite_where=sa.text("status = 'settled'"),
    )
    op.drop_index("ix_bills_status", table_name="bills")
    op.drop_index("ix_bills_person_year", table_name="bills")
    op.drop_index("ix_bills_hospital_visit", table_name="bills")
    op.drop_index("ix_bills_hospital_time", table_name="bills")
    op.drop_index("ix_bills_hospital_date", table_name="bills")
    op.drop_table("bills")
    op.drop_index(op.f("ix_admissions_id_number"), table_name="admissions")
    op.drop_table("admissions")
    op.drop_table("hospitals")
    op.drop_index(op.f("ix_grants_id_number"), table_name="grants")
    op.drop_table("grants")
    op.drop_index(op.f("ix_audit_log_subject"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table("accumulators")
