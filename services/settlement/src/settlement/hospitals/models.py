"""Designated hospitals (定点医疗机构) and the hash of each one's API key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field

from settlement.database import Base, UtcDateTime


class Hospital(Base, table=True):
    __tablename__ = "hospitals"
    __table_args__ = (
        UniqueConstraint("code", name="uq_hospitals_code"),
        UniqueConstraint("api_key_hash", name="uq_hospitals_api_key_hash"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=128)
    level: int
    region_code: str = Field(max_length=12)
    api_key_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
