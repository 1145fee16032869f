"""Status periods: a category held from ``effective_from`` to ``effective_to`` (inclusive).

A period belongs to a person (``person_id`` set) or, for household-level categories, to the
whole household (``person_id`` NULL). Periods are never deleted; ending one records the end
date, the reason, who and when.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index, text
from sqlmodel import Field

from registry.categories import CATEGORIES
from registry.database import Base, UtcDateTime

_CATEGORY_LIST = ", ".join(f"'{c}'" for c in CATEGORIES)


class StatusPeriod(Base, table=True):
    __tablename__ = "status_periods"
    __table_args__ = (
        CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name="period_order"
        ),
        CheckConstraint(f"category IN ({_CATEGORY_LIST})", name="category"),
        Index(
            "uq_status_periods_person_category_from",
            "person_id",
            "category",
            "effective_from",
            unique=True,
            sqlite_where=text("person_id IS NOT NULL"),
            postgresql_where=text("person_id IS NOT NULL"),
        ),
        Index(
            "uq_status_periods_household_category_from",
            "household_id",
            "category",
            "effective_from",
            unique=True,
            sqlite_where=text("person_id IS NULL"),
            postgresql_where=text("person_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="persons.id")
    category: str = Field(max_length=32)
    effective_from: date
    effective_to: date | None = None
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    created_by: str = Field(max_length=64)
    import_id: int | None = Field(default=None, foreign_key="imports.id")
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    ended_by: str | None = Field(default=None, max_length=64)
    end_reason: str | None = Field(default=None, max_length=200)
