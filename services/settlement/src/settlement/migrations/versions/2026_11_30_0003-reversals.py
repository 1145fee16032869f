"""Reversals: a revoke is booked as a record of its own on the day it happens.

``bills`` gains ``refd_setl_flag`` (the national 退费结算标志: 1 on a reversal, 0 on a bill),
``init_setl_id`` (the bill a reversal reverses) and ``revoked_on`` (the local date of a revoked
bill's reversal), a unique index on ``init_setl_id`` (one reversal per bill) and two checks:
a reversal is ``revoked`` and names its bill; a bill has no negative amount and a reversal no
positive one. The report index also carries ``refd_setl_flag`` on PostgreSQL. The stored
mismatching rows of a detail reconciliation gain ``refd_setl_flag`` and ``init_setl_id``.

Every bill revoked before this revision gets its reversal here, dated on the local date of
its ``revoked_at`` (``SETTLEMENT_UTC_OFFSET_HOURS``, default +8, as the service dates bills).

On SQLite the new columns carry their checks and reference in their own definitions (``ALTER
TABLE … ADD COLUMN`` cannot add a table constraint), so the table is never rebuilt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

SETLINFO_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)
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
REVERSAL_LINK = (
    "(refd_setl_flag = 0 AND init_setl_id IS NULL) "
    "OR (refd_setl_flag = 1 AND status = 'revoked' AND init_setl_id IS NOT NULL)"
)
AMOUNT_SIGN = (
    "(refd_setl_flag = 0 AND "
    + " AND ".join(f"{name} >= 0" for name in SETLINFO_FIELDS)
    + ") OR (refd_setl_flag = 1 AND "
    + " AND ".join(f"{name} <= 0" for name in SETLINFO_FIELDS)
    + ")"
)
BATCH = 1000

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # One statement per column (the checks, on the last one, read the others); SQLite
        # tests the new checks against every row.
        op.execute(
            "ALTER TABLE bills ADD COLUMN init_setl_id VARCHAR(40) "
            "CONSTRAINT fk_bills_init_setl_id_bills REFERENCES bills (setl_id)"
        )
        op.execute(
            "ALTER TABLE bills ADD COLUMN refd_setl_flag INTEGER DEFAULT '0' NOT NULL "
            f"CONSTRAINT ck_bills_reversal_link CHECK ({REVERSAL_LINK}) "
            f"CONSTRAINT ck_bills_amount_sign CHECK ({AMOUNT_SIGN})"
        )
        op.execute("ALTER TABLE bills ADD COLUMN revoked_on DATE")
    else:
        op.add_column(
            "bills",
            sa.Column("refd_setl_flag", sa.Integer(), nullable=False, server_default="0"),
        )
        op.add_column("bills", sa.Column("init_setl_id", sa.String(length=40), nullable=True))
        op.add_column("bills", sa.Column("revoked_on", sa.Date(), nullable=True))
        op.create_foreign_key(
            op.f("fk_bills_init_setl_id_bills"), "bills", "bills", ["init_setl_id"], ["setl_id"]
        )
        op.create_check_constraint(op.f("ck_bills_reversal_link"), "bills", REVERSAL_LINK)
        op.create_check_constraint(op.f("ck_bills_amount_sign"), "bills", AMOUNT_SIGN)
        op.drop_index("ix_bills_status_date", table_name="bills")
        op.create_index(
            "ix_bills_status_date",
            "bills",
            ["status", "setl_date"],
            postgresql_include=[*REPORT_COLUMNS, "refd_setl_flag"],
        )
    op.create_index("uq_bills_init_setl_id", "bills", ["init_setl_id"], unique=True)
    op.add_column(
        "reconciliation_rows",
        sa.Column("refd_setl_flag", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "reconciliation_rows", sa.Column("init_setl_id", sa.String(length=40), nullable=True)
    )
    _book_earlier_revokes()


def downgrade() -> None:
    bind = op.get_bind()
    reversals = "SELECT setl_id FROM bills WHERE refd_setl_flag = 1"
    op.execute(f"DELETE FROM bill_funds WHERE setl_id IN ({reversals})")
    op.execute("DELETE FROM bills WHERE refd_setl_flag = 1")
    op.drop_index("uq_bills_init_setl_id", table_name="bills")
    op.drop_column("reconciliation_rows", "init_setl_id")
    op.drop_column("reconciliation_rows", "refd_setl_flag")
    if bind.dialect.name == "sqlite":
        op.execute("ALTER TABLE bills DROP COLUMN revoked_on")
        # Columns with constraints cannot be dropped on SQLite without rebuilding the table.
        return
    op.drop_index("ix_bills_status_date", table_name="bills")
    op.create_index(
        "ix_bills_status_date", "bills", ["status", "setl_date"], postgresql_include=REPORT_COLUMNS
    )
    op.drop_constraint(op.f("ck_bills_amount_sign"), "bills", type_="check")
    op.drop_constraint(op.f("ck_bills_reversal_link"), "bills", type_="check")
    op.drop_constraint(op.f("fk_bills_init_setl_id_bills"), "bills", type_="foreignkey")
    op.drop_column("bills", "revoked_on")
    op.drop_column("bills", "init_setl_id")
    op.drop_column("bills", "refd_setl_flag")


# ----------------------------------------------------------------------------- backfill


def _local_tz() -> timezone:
    hours = int(os.environ.get("SETTLEMENT_UTC_OFFSET_HOURS", "8"))
    return timezone(timedelta(hours=hours))


def _negated(value: Any) -> Any:
    """An amount with the other sign (``Decimal`` yuan on PostgreSQL, integer fen on SQLite);
    zero stays zero."""
    return 0 - value if value is not None else None


def _book_earlier_revokes() -> None:
    """A reversal for every bill revoked before reversals existed."""
    bind = op.get_bind()
    tz = _local_tz()
    sqlite = bind.dialect.name == "sqlite"
    meta = sa.MetaData()
    bills = sa.Table("bills", meta, autoload_with=bind)
    funds = sa.Table("bill_funds", meta, autoload_with=bind)
    revoked = bind.execute(
        sa.select(bills).where(bills.c.status == "revoked", bills.c.refd_setl_flag == 0)
    ).all()
    for start in range(0, len(revoked), BATCH):
        chunk = revoked[start : start + BATCH]
        ids = [row.setl_id for row in chunk]
        fund_rows: dict[str, list[Any]] = {i: [] for i in ids}
        for fund in bind.execute(sa.select(funds).where(funds.c.setl_id.in_(ids))).all():
            fund_rows[fund.setl_id].append(fund)
        new_bills, new_funds = [], []
        for row in chunk:
            at = row.revoked_at or row.setl_time
            utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
            reversal_id = f"R{utc.strftime('%Y%m%d%H%M%S%f')}{secrets.token_hex(3)}"
            day = utc.astimezone(tz).date()
            key = f"reversal {row.setl_id}"
            deltas = {k: str(0 - Decimal(str(v))) for k, v in json.loads(row.deltas).items()}
            values = dict(row._mapping)
            values.update(
                setl_id=reversal_id,
                idempotency_key=key,
                request_hash=hashlib.sha256(key.encode()).hexdigest(),
                setl_time=utc.replace(tzinfo=None) if sqlite else utc,
                setl_date=day,
                revoked_at=None,
                revoked_on=None,
                items="[]",
                item_count=0,
                trace=json.dumps(
                    [{"step": "reversal", "init_setl_id": row.setl_id}], separators=(",", ":")
                ),
                deltas=json.dumps(deltas, sort_keys=True, separators=(",", ":")),
                request_id=None,
                refd_setl_flag=1,
                init_setl_id=row.setl_id,
            )
            values.update({name: _negated(values[name]) for name in SETLINFO_FIELDS})
            new_bills.append(values)
            for fund in fund_rows[row.setl_id]:
                f = dict(fund._mapping)
                f.update(
                    setl_id=reversal_id,
                    inscp_scp_amt=_negated(f["inscp_scp_amt"]),
                    fund_payamt=_negated(f["fund_payamt"]),
                    setl_proc_info=f"冲销结算 {row.setl_id}：{f['setl_proc_info']}",
                )
                new_funds.append(f)
            bind.execute(
                sa.update(bills).where(bills.c.setl_id == row.setl_id).values(revoked_on=day)
            )
        bind.execute(sa.insert(bills), new_bills)
        if new_funds:
            bind.execute(sa.insert(funds), new_funds)
