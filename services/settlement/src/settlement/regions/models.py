"""The administrative divisions a deployment covers (行政区划代码 → 名称)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field

from settlement.database import Base, UtcDateTime


class Region(Base, table=True):
    """A region code (6 digits, or 12 for a township) and its name. Hospitals name their region
    by code; a code without a row here is shown as the code."""

    __tablename__ = "regions"

    code: str = Field(sa_column=Column(String(12), primary_key=True))
    name: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
