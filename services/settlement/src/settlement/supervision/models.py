"""Supervision tables: the flags recorded on bills, the medians the outlier rules compare
with, the item amounts those medians are made of, and the refresh's bookkeeping."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from settlement.database import MoneyType, UtcDateTime, metadata

OPEN = "open"
REVIEWED_OK = "reviewed-ok"
REVIEWED_RECOVER = "reviewed-recover"
FLAG_STATUSES = (OPEN, REVIEWED_OK, REVIEWED_RECOVER)

FlagRow = Table(
    "supervision_flags",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("setl_id", String(40), ForeignKey("bills.setl_id"), nullable=False),
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), nullable=False),
    Column("setl_date", Date, nullable=False),
    Column("rule", String(32), nullable=False),
    Column("title", String(128), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("field", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON object, for administrators
    Column("status", String(24), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("reviewed_by", String(64)),
    Column("reviewed_at", UtcDateTime()),
    Column("review_note", Text),
    CheckConstraint("status IN ('open', 'reviewed-ok', 'reviewed-recover')", name="status_values"),
    CheckConstraint(
        "(status = 'open' AND reviewed_at IS NULL) OR "
        "(status <> 'open' AND reviewed_at IS NOT NULL AND reviewed_by IS NOT NULL)",
        name="review_complete",
    ),
    Index("ix_supervision_flags_setl_id", "setl_id"),
    Index("ix_supervision_flags_date_rule", "setl_date", "rule"),
    Index("ix_supervision_flags_hospital_date", "hospital_id", "setl_date"),
    Index("ix_supervision_flags_status_date", "status", "setl_date"),
)
"""A rule that fired on a bill (one row per rule and bill): the rule's code, title and
severity as they were, the request field it is about, the hospital's sentence
(``message``), the administrators' facts (``detail``, JSON) and the review: ``status`` open →
reviewed-ok (核实无误) or reviewed-recover (追回), with who, when and a note."""

StatsRow = Table(
    "supervision_stats",
    metadata,
    Column("kind", String(8), primary_key=True),  # item | bill
    Column("key", String(64), primary_key=True),  # item code | visit type
    Column("hospital_level", Integer, primary_key=True, autoincrement=False),
    Column("median", MoneyType(), nullable=False),
    Column("samples", Integer, nullable=False),
    Column("refreshed_at", UtcDateTime(), nullable=False),
)
"""The medians the outlier rules compare with, per item code (visit type) and hospital
level, over the rules' window; replaced by each refresh."""

ItemSampleRow = Table(
    "supervision_item_samples",
    metadata,
    Column("setl_id", String(40), primary_key=True),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("code", String(64), nullable=False),
    Column("hospital_level", Integer, nullable=False),
    Column("setl_date", Date, nullable=False),
    Column("amount", MoneyType(), nullable=False),
    Index("ix_supervision_item_samples_setl_date", "setl_date"),
)
"""One fee line of a settled bill (its amount in yuan), copied from the bill's ``items``
by the background refresh so the item medians are one SQL aggregate; lines older than the
window are deleted."""

StateRow = Table(
    "supervision_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("refreshed_at", UtcDateTime()),
    Column("watermark", String(40)),  # the last setl_id copied into the samples
    Column("lease_until", UtcDateTime()),
)
"""The refresh's bookkeeping (row ``stats``): when it last finished, how far it has copied
the bills' lines, and a lease so one instance refreshes at a time."""
