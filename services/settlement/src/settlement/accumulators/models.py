"""Per-person, per-year running totals (年度累计): one lockable row per person and year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from settlement.database import Base, UtcDateTime


class Accumulator(Base, table=True):
    """``totals`` is the engine's opaque running-total map as JSON text of exact decimal
    strings; it always equals the sum of the deltas of the person's settled, unrevoked bills
    whose discharge (or visit) date falls in ``year``."""

    __tablename__ = "accumulators"

    id_number: str = Field(max_length=18, primary_key=True)
    year: int = Field(primary_key=True)
    totals: str = Field(sa_column=Column(Text, nullable=False))
    bills: int = 0
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
