"""Indexes the fund report and the reconciliation read (declared here so the service's
MetaData matches the migrations; the ``bills`` and ``bill_funds`` tables belong to ``bills``)."""

from __future__ import annotations

from sqlalchemy import Index

from settlement.bills.models import BillFundRow, BillRow
from settlement.database import table_of
from settlement.reports.schemas import BILL_AMOUNTS

_bills = table_of(BillRow)
_funds = table_of(BillFundRow)

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

FUND_REPORT_COLUMNS = ("fund_payamt", "refd_setl_flag", "fund_pay_type_name")
"""Carried in the fund rows' report index on PostgreSQL (``INCLUDE``, migration 0012): what
the fund grouping reads besides the key, so it is an index-only scan of the period's fund
rows."""

bill_funds_date_fund = Index(
    "ix_bill_funds_date_fund",
    _funds.c.setl_date,
    _funds.c.fund_pay_type,
    postgresql_include=list(FUND_REPORT_COLUMNS),
)
