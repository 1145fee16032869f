"""SQL aggregation for the fund report: GROUP BY over the books of a period (every bill and
every reversal dated in it). The groupings by a bill column read ``bills`` through the
``(status, setl_date)`` index, the fund grouping reads ``bill_funds`` alone through
``(setl_date, fund_pay_type)`` (its rows carry their bill's date and reversal flag, migration
0012): both index-only scans on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select, text

from settlement.bills.models import REVOKED, SETTLED, BillFundRow, BillRow
from settlement.database import AnyRow, Conn, table_of
from settlement.hospitals.models import Hospital
from settlement.reports.schemas import BILL_AMOUNTS

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)
hospitals = table_of(Hospital)


async def tune_for_aggregation(conn: Conn) -> None:
    """On PostgreSQL, for this read transaction only: room for the aggregations' hash tables
    (a year of days, hundreds of hospitals) in memory, and no JIT compilation (it costs more
    than it saves on these short scans)."""
    if conn.dialect == "postgresql":
        await conn.execute(text("SET LOCAL work_mem = '64MB'"))
        await conn.execute(text("SET LOCAL jit = off"))


BOOKED = (SETTLED, REVOKED)
"""Every status a row of the books has: a bill (settled, or revoked later) and a reversal
(``revoked``, ``refd_setl_flag`` 1). Named so the ``(status, setl_date)`` index serves."""


def _dated(table: Table, begin: date, end: date) -> tuple[ColumnElement[bool], ...]:
    return (table.c.setl_date >= begin, table.c.setl_date <= end)


def in_period(begin: date, end: date) -> tuple[ColumnElement[bool], ...]:
    """The rows of the books dated in the period: the bills settled in it, whatever became of
    them later, and the reversals of the revokes made in it (negative amounts). A day's rows
    never change once the day is over."""
    return (bills.c.status.in_(BOOKED), *_dated(bills, begin, end))


def funds_in_period(begin: date, end: date) -> tuple[ColumnElement[bool], ...]:
    """The fund rows of :func:`in_period`'s rows, by the date they carry (their bill's): every
    bill is of the books (``status_values`` admits only the ``BOOKED`` statuses)."""
    return _dated(bill_funds, begin, end)


def _sums() -> list[Any]:
    return [func.sum(bills.c[name]).label(name) for name in BILL_AMOUNTS]


def _reversals(table: Table) -> Any:
    """How many of the rows are reversals (``refd_setl_flag`` is 0 or 1)."""
    return func.coalesce(func.sum(table.c.refd_setl_flag), 0).label("reversal_count")


_REVERSALS = _reversals(bills)


async def by_bill_column(conn: Conn, column: str, begin: date, end: date) -> Sequence[AnyRow]:
    """(key, bill_count, reversal_count, Σ amounts…) per value of a ``bills`` column
    (``hospital_id``, ``aid_class``, ``setl_date``), ordered by it; the sums are net (the
    reversals' amounts are negative)."""
    key = bills.c[column]
    stmt = (
        select(key.label("key"), func.count().label("bill_count"), _REVERSALS, *_sums())
        .where(*in_period(begin, end))
        .group_by(key)
        .order_by(key)
    )
    return (await conn.execute(stmt)).all()


async def by_fund(conn: Conn, begin: date, end: date) -> Sequence[AnyRow]:
    """(fund code, name, rows, reversals, Σ fund_payamt) per fund, from the fund rows of the
    period's bills and reversals (net), ordered by code; ``bill_funds`` alone
    (:func:`funds_in_period`)."""
    stmt = (
        select(
            bill_funds.c.fund_pay_type.label("key"),
            func.min(bill_funds.c.fund_pay_type_name).label("name"),
            func.count().label("bill_count"),
            _reversals(bill_funds),
            func.sum(bill_funds.c.fund_payamt).label("fund_payamt"),
        )
        .where(*funds_in_period(begin, end))
        .group_by(bill_funds.c.fund_pay_type)
        .order_by(bill_funds.c.fund_pay_type)
    )
    return (await conn.execute(stmt)).all()


async def bill_count(conn: Conn, begin: date, end: date) -> tuple[int, int]:
    """(rows, reversals) of the period's books."""
    stmt = select(func.count(), _REVERSALS).select_from(bills).where(*in_period(begin, end))
    row = (await conn.execute(stmt)).one()
    return int(row[0]), int(row[1])


async def hospital_names(conn: Conn) -> dict[int, tuple[str, str, str]]:
    """hospital id → (code, name, region code)."""
    rows = await conn.execute(
        select(hospitals.c.id, hospitals.c.code, hospitals.c.name, hospitals.c.region_code)
    )
    return {int(r.id): (r.code, r.name, r.region_code) for r in rows}
