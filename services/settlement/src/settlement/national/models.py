"""Tables of the national interface: messages by ``msgid`` (the retry key), the persons a
hospital has looked up (``psn_no`` → ID number) and what a visit adds to its admission record
(discharge date, diagnoses, the national codes)."""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Text

from settlement.database import UtcDateTime, metadata

PENDING = "pending"
DONE = "done"

NationalMessage = Table(
    "national_messages",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("msgid", String(64), primary_key=True),  # 发送方报文ID
    Column("infno", String(8), nullable=False),  # 交易编号
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of infno + input
    Column("state", String(8), nullable=False),  # pending while it runs, done with its answer
    Column("mdtrt_id", String(64)),  # 就诊ID, when the transaction is about a visit
    Column("subject", Text),  # JSON: what 2601 needs to undo it (setl_id, feedetl_sn)
    Column("answer", Text),  # the answer envelope as sent (JSON text)
    Column("reversed_by", String(64)),  # the msgid of the 2601 that undid it
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_national_messages_visit", "hospital_id", "mdtrt_id"),
)
"""One writing transaction of a hospital, by its ``msgid``: claimed (``pending``) before it
runs, its answer stored (``done``) when it succeeds, the row removed when it fails."""

NationalPerson = Table(
    "national_persons",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("psn_no", String(32), primary_key=True),  # 人员编号 (pseudonym)
    Column("id_number", String(18), nullable=False),
    Column("psn_name", String(64)),
    Column("updated_at", UtcDateTime(), nullable=False),
)
"""A person a hospital identified (1101, 2201, 2401): its ``psn_no`` resolves to the ID number
for that hospital only."""

NationalVisit = Table(
    "national_visits",
    metadata,
    Column("hospital_id", Integer, ForeignKey("hospitals.id"), primary_key=True),
    Column("mdtrt_id", String(64), primary_key=True),  # 就诊ID = the visit's visit_id
    Column("med_type", String(8)),  # 医疗类别
    Column("insutype", String(8)),  # 险种类型
    Column("diagnoses", Text, nullable=False),  # JSON list of diagnosis codes, main first
    Column("discharged_on", Date),  # 出院日期 (2402)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
"""What the national flow knows of a visit beyond its admission record (``admissions``)."""
