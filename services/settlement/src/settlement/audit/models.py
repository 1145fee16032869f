"""The append-only audit log: who did what, when, under which request id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, Text
from sqlmodel import Field

from settlement.database import Base, UtcDateTime


class AuditRecord(Base, table=True):
    """Never updated or deleted (the migration adds triggers that refuse both)."""

    __tablename__ = "audit_log"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    subject: str = Field(max_length=64, index=True)
    request_id: str | None = Field(default=None, max_length=128)
    detail: str = Field(sa_column=Column(Text, nullable=False))  # JSON object
