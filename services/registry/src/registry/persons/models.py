"""Persons, identified by their resident ID number, each a member of one household."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field

from registry.database import Base, UtcDateTime


class Person(Base, table=True):
    __tablename__ = "persons"

    id: int | None = Field(default=None, primary_key=True)
    id_number: str = Field(max_length=18, unique=True)
    household_id: int = Field(foreign_key="households.id", index=True)
    name: str = Field(max_length=64)
    relation: str = Field(default="", max_length=32)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    created_by: str = Field(max_length=64)
    import_id: int | None = Field(default=None, foreign_key="imports.id")
    updated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
