"""Uploaded fee detail lines of an open visit."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from settlement.database import MoneyType, UtcDateTime, metadata

FeeDetailRow = Table(
    "fee_details",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("visit_id", String(64), primary_key=True),
    Column("feedetl_sn", String(30), primary_key=True),  # the HIS's line serial (费用明细流水号)
    Column("seq", Integer, nullable=False),  # upload order
    Column("item", Text, nullable=False),  # the line as sent, JSON
    Column("amount", MoneyType(), nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
    Column("setl_id", String(40)),  # the bill that settled the line; NULL while open
    Index("ix_fee_details_visit_seq", "hospital_id", "visit_id", "seq"),
)
"""One uploaded line. Settled lines keep the bill's ``setl_id``; a revoke reopens them."""
