"""Temporary-assistance grants (临时救助): a one-off amount civil affairs approved for a person,
and which bills drew on it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field

from settlement.database import Base, MoneyType, UtcDateTime


class Grant(Base, table=True):
    __tablename__ = "grants"
    __table_args__ = (
        UniqueConstraint("reference", name="uq_grants_reference"),
        CheckConstraint("balance >= 0 AND balance <= amount", name="balance_range"),
        CheckConstraint("valid_from <= valid_to", name="validity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    id_number: str = Field(max_length=18, index=True)
    amount: Decimal = Field(sa_column=Column(MoneyType(), nullable=False))
    balance: Decimal = Field(sa_column=Column(MoneyType(), nullable=False))
    valid_from: date
    valid_to: date
    reference: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    created_by: str = Field(max_length=64)


class GrantUse(Base, table=True):
    """The part of a bill's temporary assistance taken from one grant (given back on revoke)."""

    __tablename__ = "grant_uses"

    setl_id: str = Field(
        sa_column=Column(String(40), ForeignKey("bills.setl_id"), primary_key=True)
    )
    grant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("grants.id"), primary_key=True, index=True)
    )
    amount: Decimal = Field(sa_column=Column(MoneyType(), nullable=False))
