"""The change log (变更记录): every write to the registry, with who, when and the request id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from registry.database import Base, UtcDateTime


class ChangeLogEntry(Base, table=True):
    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=64)
    request_id: str | None = Field(default=None, max_length=128)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: int
    household_id: int | None = Field(default=None, index=True)
    person_id: int | None = Field(default=None, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
