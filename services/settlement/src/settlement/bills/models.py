"""Settled bills (结算单) and their fund rows (``setldetail``).

The amount columns are derived from the engine's result types (``Bill``'s ``setlinfo``
amounts, ``FundDetail``'s fields): the engine declares a bill's shape once.
"""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeEngine

from settlement.database import MoneyType, UtcDateTime, metadata
from settlement.engine import SETLINFO_FIELDS, FundDetail

SETTLED = "settled"
REVOKED = "revoked"

FUND_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FundDetail))
"""The ``setldetail`` row's fields, in the engine's order."""

# Types of the fund row's columns that are not amounts (amounts are ``MoneyType``).
_FUND_TEXT: dict[str, TypeEngine[str]] = {
    "fund_pay_type": String(16),
    "fund_pay_type_name": String(64),
    "setlinfo_field": String(16),
    "setl_proc_info": Text(),
}


def _fund_column(name: str) -> Column[object]:
    if name in _FUND_TEXT:
        return Column(name, _FUND_TEXT[name], nullable=False)
    return Column(name, MoneyType(), nullable=name != "inscp_scp_amt" and name != "fund_payamt")


BillRow = Table(
    "bills",
    metadata,
    Column("setl_id", String(40), primary_key=True),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("visit_id", String(64), nullable=False),
    Column("visit_type", String(16), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("id_number", String(18), nullable=False),
    Column("patient_name", String(64), nullable=False),
    Column("admitted_on", Date, nullable=False),
    Column("discharged_on", Date, nullable=False),
    Column("acc_year", Integer, nullable=False),
    Column("setl_time", UtcDateTime(), nullable=False),
    Column("setl_date", Date, nullable=False),
    Column("revoked_at", UtcDateTime()),
    Column("policy_version", String(32), nullable=False),
    Column("hospital_level", Integer, nullable=False),
    Column("aid_class", String(16), nullable=False),
    Column("categories", Text, nullable=False),  # JSON list
    Column("registered", Boolean, nullable=False),
    Column("eligibility_on", Date, nullable=False),
    Column("eligibility_source", String(16), nullable=False),  # "admission" | "settlement"
    Column("diagnoses", Text, nullable=False),  # JSON list
    # JSON list of the diagnoses' names (诊断名称), null where not sent; NULL: none sent.
    Column("diagnosis_names", Text),
    Column("items", Text, nullable=False),  # JSON list
    Column("item_count", Integer, nullable=False),
    Column("trace", Text, nullable=False),  # JSON list
    Column("deltas", Text, nullable=False),  # JSON object
    *(Column(name, MoneyType(), nullable=False) for name in SETLINFO_FIELDS),
    Column("request_id", String(128)),
    # An interim settlement (中途结算) of a long stay: the visit stays open for more parts.
    Column("interim", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("hospital_id", "idempotency_key", name="uq_bills_idempotency"),
    # At most one settled final bill per visit of a hospital (no double billing); any number
    # of interim parts before it.
    Index(
        "uq_bills_settled_visit",
        "hospital_id",
        "visit_id",
        unique=True,
        postgresql_where=text("status = 'settled' AND NOT interim"),
        sqlite_where=text("status = 'settled' AND NOT interim"),
    ),
    Index("ix_bills_hospital_date", "hospital_id", "setl_date"),
    Index("ix_bills_hospital_time", "hospital_id", "setl_time"),
    Index("ix_bills_hospital_visit", "hospital_id", "visit_id"),
    Index("ix_bills_person_year", "id_number", "acc_year"),
    CheckConstraint("status IN ('settled', 'revoked')", name="status_values"),
    CheckConstraint("medfee_sumamt = fund_pay_sumamt + psn_cash_pay", name="medfee_split"),
    CheckConstraint(
        "fund_pay_sumamt = hifp_pay + hifmi_pay + maf_pay + oth_pay", name="fund_split"
    ),
)
"""One bill. The ``setlinfo`` amounts are columns so reconciliation and reports aggregate in
SQL; ``items``, ``trace`` and ``deltas`` are kept as JSON text for the receipt, audits and the
revoke.

On PostgreSQL the migration adds an exclusion constraint (``ex_bills_inpatient_stay``, needs
``btree_gist``): two settled inpatient bills of one person whose stays
``[admitted_on, discharged_on)`` overlap must belong to the same visit of the same hospital —
a person is in one stay at a time, and a transfer (discharge day = next admission day) does
not overlap. It backs the check the settle makes under its lock (and SQLite's write lock).

On PostgreSQL the table is partitioned by month of ``setl_date`` (migration 0010,
:mod:`settlement.bills.partitions`): the primary key is ``(setl_id, setl_date)``, and the
constraints over all bills (``uq_bills_idempotency``, ``uq_bills_settled_visit``,
``uq_bills_init_setl_id``, ``ex_bills_inpatient_stay``, ``setl_id``'s uniqueness, which the
foreign keys to a bill reference) are on ``bill_keys``, one row per bill that triggers on
``bills`` write with it. This table describes the columns both backends share."""

# ----------------------------------------------------------------------------- reversals
# A revoke adds a record of its own to the books (migration 0003): a ``bills`` row dated on
# the local day of the revoke, every ``setlinfo`` amount and fund row negated, status
# ``revoked`` (so it never counts as the visit's settled bill), ``refd_setl_flag`` 1 (the
# national 退费结算标志) and ``init_setl_id`` naming the bill it reverses. The bill keeps its
# row, date and amounts; it is marked revoked (``revoked_at``, and ``revoked_on``: the local
# date of its reversal). Every figure of a period is then the sum over the rows dated in it.

REVERSAL_FLAG = 1
"""``refd_setl_flag`` of a reversal."""
BILL_FLAG = 0
"""``refd_setl_flag`` of a bill (the column's default)."""

REVERSAL_LINK = (
    "(refd_setl_flag = 0 AND init_setl_id IS NULL) "
    "OR (refd_setl_flag = 1 AND status = 'revoked' AND init_setl_id IS NOT NULL)"
)
"""A bill names no other row; a reversal is ``revoked`` and names the bill it reverses."""

AMOUNT_SIGN = (
    "(refd_setl_flag = 0 AND "
    + " AND ".join(f"{name} >= 0" for name in SETLINFO_FIELDS)
    + ") OR (refd_setl_flag = 1 AND "
    + " AND ".join(f"{name} <= 0" for name in SETLINFO_FIELDS)
    + ")"
)
"""No amount of a bill is negative; no amount of a reversal is positive."""

BillRow.append_column(Column("refd_setl_flag", Integer, nullable=False, server_default="0"))
BillRow.append_column(Column("init_setl_id", String(40), ForeignKey("bills.setl_id")))
BillRow.append_column(Column("revoked_on", Date))
BillRow.append_constraint(CheckConstraint(REVERSAL_LINK, name="reversal_link"))
BillRow.append_constraint(CheckConstraint(AMOUNT_SIGN, name="amount_sign"))
Index("uq_bills_init_setl_id", BillRow.c.init_setl_id, unique=True)

# ----------------------------------------------------------------------------- fund rows

FUND_BILL_FIELDS: tuple[str, ...] = ("setl_date", "refd_setl_flag")
"""The columns of its bill a fund row carries (migration 0012), so the fund report groups
``bill_funds`` alone: what a period's books filter on (the date) and count (reversals).
:func:`settlement.bills.repository.with_bill_fields` copies them when the rows are written.
The bill's ``status`` is not needed: every row of ``bills`` is of the books
(``status_values``). Neither column changes once the bill is written; a trigger on ``bills``
(migration 0012) copies a change made by hand to the bill's fund rows."""

BillFundRow = Table(
    "bill_funds",
    metadata,
    Column("setl_id", String(40), ForeignKey("bills.setl_id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    *(_fund_column(name) for name in FUND_FIELDS),
    *(Column(name, BillRow.c[name].type, nullable=False) for name in FUND_BILL_FIELDS),
)
"""One ``setldetail`` row of a bill (the engine's ``FundDetail`` fields), with its bill's
:data:`FUND_BILL_FIELDS`."""
