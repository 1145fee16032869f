"""Settled bills (结算单) and their fund rows (``setldetail``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field

from settlement.database import Base, MoneyType, UtcDateTime

SETTLED = "settled"
REVOKED = "revoked"


def _money(nullable: bool = False) -> Column[Decimal]:
    return Column(MoneyType(), nullable=nullable)


class BillRow(Base, table=True):
    """One bill. The ``setlinfo`` amounts are columns so reconciliation and reports aggregate
    in SQL; ``items``, ``trace`` and ``deltas`` are kept as JSON text for the receipt, audits
    and the revoke."""

    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("hospital_id", "idempotency_key", name="uq_bills_idempotency"),
        # At most one settled bill per visit of a hospital (no double billing).
        Index(
            "uq_bills_settled_visit",
            "hospital_id",
            "visit_id",
            unique=True,
            postgresql_where=text("status = 'settled'"),
            sqlite_where=text("status = 'settled'"),
        ),
        Index("ix_bills_hospital_date", "hospital_id", "setl_date"),
        Index("ix_bills_hospital_time", "hospital_id", "setl_time"),
        Index("ix_bills_hospital_visit", "hospital_id", "visit_id"),
        Index("ix_bills_person_year", "id_number", "acc_year"),
        Index("ix_bills_status", "status"),
        CheckConstraint("status IN ('settled', 'revoked')", name="status_values"),
        CheckConstraint("medfee_sumamt = fund_pay_sumamt + psn_cash_pay", name="medfee_split"),
        CheckConstraint(
            "fund_pay_sumamt = hifp_pay + hifmi_pay + maf_pay + oth_pay", name="fund_split"
        ),
    )

    setl_id: str = Field(sa_column=Column(String(40), primary_key=True))
    hospital_id: int = Field(sa_column=Column(Integer, ForeignKey("hospitals.id"), nullable=False))
    visit_id: str = Field(max_length=64)
    visit_type: str = Field(max_length=16)
    idempotency_key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    status: str = Field(max_length=16)
    id_number: str = Field(max_length=18)
    patient_name: str = Field(max_length=64)
    admitted_on: date
    discharged_on: date
    acc_year: int
    setl_time: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    setl_date: date
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    policy_version: str = Field(max_length=32)
    hospital_level: int
    aid_class: str = Field(max_length=16)
    categories: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    registered: bool
    eligibility_on: date
    eligibility_source: str = Field(max_length=16)  # "admission" | "settlement"
    diagnoses: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    items: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    item_count: int
    trace: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    deltas: str = Field(sa_column=Column(Text, nullable=False))  # JSON object
    medfee_sumamt: Decimal = Field(sa_column=_money())
    fulamt_ownpay_amt: Decimal = Field(sa_column=_money())
    overlmt_selfpay: Decimal = Field(sa_column=_money())
    preselfpay_amt: Decimal = Field(sa_column=_money())
    inscp_scp_amt: Decimal = Field(sa_column=_money())
    act_pay_dedc: Decimal = Field(sa_column=_money())
    hifp_pay: Decimal = Field(sa_column=_money())
    hifmi_pay: Decimal = Field(sa_column=_money())
    maf_pay: Decimal = Field(sa_column=_money())
    oth_pay: Decimal = Field(sa_column=_money())
    fund_pay_sumamt: Decimal = Field(sa_column=_money())
    psn_cash_pay: Decimal = Field(sa_column=_money())
    request_id: str | None = Field(default=None, max_length=128)


class BillFundRow(Base, table=True):
    """One ``setldetail`` row of a bill."""

    __tablename__ = "bill_funds"

    setl_id: str = Field(
        sa_column=Column(String(40), ForeignKey("bills.setl_id"), primary_key=True)
    )
    seq: int = Field(primary_key=True)
    fund_pay_type: str = Field(max_length=16, index=True)
    fund_pay_type_name: str = Field(max_length=64)
    setlinfo_field: str = Field(max_length=16)
    inscp_scp_amt: Decimal = Field(sa_column=_money())
    crt_payb_lmt_amt: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    fund_payamt: Decimal = Field(sa_column=_money())
    setl_proc_info: str = Field(sa_column=Column(Text, nullable=False))
