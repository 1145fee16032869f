"""Admission records (入院登记): the eligibility taken when a patient was admitted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field

from settlement.database import Base, UtcDateTime


class Admission(Base, table=True):
    __tablename__ = "admissions"
    __table_args__ = (
        UniqueConstraint("hospital_id", "visit_id", name="uq_admissions_hospital_visit"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(sa_column=Column(Integer, ForeignKey("hospitals.id"), nullable=False))
    visit_id: str = Field(max_length=64)
    visit_type: str = Field(max_length=16)
    id_number: str = Field(max_length=18, index=True)
    patient_name: str = Field(max_length=64)
    admitted_on: date
    eligibility_on: date
    categories: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    registered: bool
    aid_class: str = Field(max_length=16)
    policy_version: str = Field(max_length=32)
    deposit_free: bool
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    request_id: str | None = Field(default=None, max_length=128)
