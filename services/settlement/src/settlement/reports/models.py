"""Indexes the fund report and the reconciliation read (declared here so the service's
MetaData matches the migrations; the ``bills`` table itself belongs to ``settlements``)."""

from __future__ import annotations

from sqlalchemy import Index

from settlement.bills.models import BillRow
from settlement.database import table_of
from settlement.reports.schemas import BILL_AMOUNTS

_bills = table_of(BillRow)

REPORT_COLUMNS = ("setl_id", "hospital_id", "aid_class", *BILL_AMOUNTS, "refd_setl_flag")
"""Carried in the report index on PostgreSQL (``INCLUDE``), so a year's report is an
index-only scan that never reads the wide bill rows (items, trace). ``refd_setl_flag`` since
migration 0003 (the reversals of the period are counted apart)."""

bills_status_date = Index(
    "ix_bills_status_date",
    _bills.c.status,
    _bills.c.setl_date,
    postgresql_include=list(REPORT_COLUMNS),
)
