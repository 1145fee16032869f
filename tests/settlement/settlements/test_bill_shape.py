"""The bill's shape is the engine's: its ``setlinfo`` amounts and ``setldetail`` fields are
declared by the engine's result types, and every other place either derives them or is held
to them here (the answer schema, which documents each field for integrators)."""

from __future__ import annotations

from dataclasses import fields

from settlement.bills.models import FUND_BILL_FIELDS, FUND_FIELDS, BillFundRow, BillRow
from settlement.engine import SETLINFO_FIELDS, Bill, FundDetail
from settlement.reports.models import REPORT_COLUMNS
from settlement.reports.schemas import BILL_AMOUNTS
from settlement.settlements.schemas import BillOut, FundRowOut


def test_setlinfo_amounts_are_the_engines() -> None:
    engine_amounts = tuple(f.name for f in fields(Bill) if f.name in SETLINFO_FIELDS)
    assert engine_amounts == SETLINFO_FIELDS
    assert tuple(name for name in BillOut.model_fields if name in SETLINFO_FIELDS) == (
        SETLINFO_FIELDS
    )
    assert set(SETLINFO_FIELDS) <= set(BillRow.c.keys())
    assert set(BILL_AMOUNTS) <= set(SETLINFO_FIELDS)
    assert set(BILL_AMOUNTS) <= set(REPORT_COLUMNS)


def test_setldetail_fields_are_the_engines() -> None:
    assert FUND_FIELDS == tuple(f.name for f in fields(FundDetail))
    assert tuple(FundRowOut.model_fields) == FUND_FIELDS
    assert set(BillFundRow.c.keys()) == {"setl_id", "seq", *FUND_FIELDS, *FUND_BILL_FIELDS}
    # The bill's columns its fund rows carry are the bill's, of the same types.
    for name in FUND_BILL_FIELDS:
        assert type(BillFundRow.c[name].type) is type(BillRow.c[name].type)
