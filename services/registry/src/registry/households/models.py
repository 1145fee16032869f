"""Households (户): a code from the poverty office and the region they live in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field

from registry.database import Base, UtcDateTime


class Household(Base, table=True):
    __tablename__ = "households"

    id: int | None = Field(default=None, primary_key=True)
    household_code: str = Field(max_length=40, unique=True)
    region_code: str = Field(max_length=12)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    created_by: str = Field(max_length=64)
    import_id: int | None = Field(default=None, foreign_key="imports.id")
