"""The append-only audit log: who did what, when, under which request id; hash-chained."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field

from settlement.database import Base, UtcDateTime


class AuditRecord(Base, table=True):
    """Never updated or deleted (the migration adds triggers that refuse both). ``chain``,
    ``seq``, ``prev_hash`` and ``hash`` seal the record (:mod:`settlement.audit.chain`):
    ``(chain, seq)`` is unique, so two writers can never both append the same place of a
    chain."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("uq_audit_log_chain_seq", "chain", "seq", unique=True),)

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
    chain: str = Field(sa_column=Column(String(40), nullable=False))
    seq: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=False))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
