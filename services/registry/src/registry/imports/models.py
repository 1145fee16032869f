"""One row per import that changed the registry: who, when, which file (SHA-256), what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from registry.database import Base, UtcDateTime


class ImportRecord(Base, table=True):
    __tablename__ = "imports"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    actor: str = Field(max_length=64)
    request_id: str | None = Field(default=None, max_length=128)
    sha256: str = Field(max_length=64)
    rows: int
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
