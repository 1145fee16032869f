"""Stored reconciliations (对账记录): one row per reconciliation and one per mismatching bill."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field

from settlement.database import Base, MoneyType, UtcDateTime

SUMMARY = "summary"
DETAIL = "detail"


class Reconciliation(Base, table=True):
    """A summary (like national 3201) or detail (3202) reconciliation of one hospital's period.

    ``totals`` (summary) holds the hospital's totals, the service's and the differences as JSON;
    ``counts`` (detail) the number of bills per result code."""

    __tablename__ = "reconciliations"
    __table_args__ = (
        Index("ix_reconciliations_hospital_created", "hospital_id", "created_at"),
        Index("ix_reconciliations_matched_created", "matched", "created_at"),
        CheckConstraint("kind IN ('summary', 'detail')", name="kind_values"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    hospital_id: int = Field(sa_column=Column(Integer, ForeignKey("hospitals.id"), nullable=False))
    begin_date: date
    end_date: date
    visit_type: str | None = Field(default=None, max_length=16)
    include_revoked: bool
    matched: bool
    bill_count: int
    mismatch_count: int
    totals: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    counts: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=64)
    request_id: str | None = Field(default=None, max_length=128)


class ReconciliationRow(Base, table=True):
    """A record (bill or reversal) that did not match (result 1, 2 or 3), with what differs
    (JSON list)."""

    __tablename__ = "reconciliation_rows"

    reconciliation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("reconciliations.id", ondelete="CASCADE"), primary_key=True
        )
    )
    seq: int = Field(primary_key=True)
    setl_id: str = Field(sa_column=Column(String(64), nullable=False))
    result: str = Field(max_length=1)
    visit_id: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=16)
    medfee_sumamt: Decimal | None = Field(
        default=None, sa_column=Column(MoneyType(), nullable=True)
    )
    fund_pay_sumamt: Decimal | None = Field(
        default=None, sa_column=Column(MoneyType(), nullable=True)
    )
    differences: str = Field(sa_column=Column(Text, nullable=False))
    refd_setl_flag: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    """1: the row is a reversal (migration 0003)."""
    init_setl_id: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    """A reversal's bill (the service's side)."""
