"""The records a simulation re-runs (bills and reversals), streamed in the order they were
made, person-year by person-year."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.dialects.postgresql import array

from settlement.bills.models import BillRow
from settlement.database import Conn, table_of
from settlement.reports.repository import BOOKED
from settlement.simulation.replay import ReplayRow

bills = table_of(BillRow)
BATCH = 2000


Persons = tuple[str | None, str | None]
"""A range of ID numbers ``[from, to)`` in the database's order (None: open)."""


def _touched(begin: date, end: date) -> ColumnElement[bool]:
    """The record's person-year has a record (bill or reversal) in the period."""
    in_period = bills.alias("in_period")
    return exists().where(
        and_(
            in_period.c.id_number == bills.c.id_number,
            in_period.c.acc_year == bills.c.acc_year,
            in_period.c.status.in_(BOOKED),
            in_period.c.setl_date >= begin,
            in_period.c.setl_date <= end,
        )
    )


async def share_bounds(conn: Conn, begin: date, end: date, shares: int) -> list[Persons]:
    """``shares`` consecutive ranges of the ID numbers with records in the period, about as
    many records in each (PostgreSQL: ``percentile_disc``), together every ID number, in
    order; a range may be empty."""
    fractions = [k / shares for k in range(1, shares)]
    stmt = select(func.percentile_disc(array(fractions)).within_group(bills.c.id_number)).where(
        bills.c.status.in_(BOOKED), bills.c.setl_date >= begin, bills.c.setl_date <= end
    )
    cuts: list[str | None] = list((await conn.execute(stmt)).scalar() or [])
    if not cuts:  # no records in the period: the first share takes everything, if anything
        return [(None, None)] + [("", "")] * (shares - 1)
    edges = [None, *cuts, None]
    return [(edges[k], edges[k + 1]) for k in range(shares)]


async def stream_replay(
    conn: Conn, begin: date, end: date, persons: Persons = (None, None)
) -> AsyncGenerator[list[ReplayRow], None]:
    """Every record (bill or reversal) of a person-year that has a record in the period, made
    up to the period's end, ordered by person, year and time: the bills and revokes as they
    happened, so each record is re-run on the running totals it met, as ``ReplayRow``s
    (made from the driver's plain tuples). ``persons``: only the ID numbers in that range (a
    worker's share)."""
    stmt = (
        select(*(bills.c[name] for name in ReplayRow._fields))
        .where(bills.c.status.in_(BOOKED), bills.c.setl_date <= end, _touched(begin, end))
        .order_by(bills.c.id_number, bills.c.acc_year, bills.c.setl_time, bills.c.setl_id)
    )
    low, high = persons
    if low is not None:
        stmt = stmt.where(bills.c.id_number >= low)
    if high is not None:
        stmt = stmt.where(bills.c.id_number < high)
    # Closed here, while the connection is still held, when the caller stops early.
    stream = cast(
        AsyncGenerator[Sequence[tuple[Any, ...]], None],
        conn.stream(stmt, batch=BATCH, tuples=True),
    )
    async with aclosing(stream) as batches:
        async for batch in batches:
            yield list(map(ReplayRow._make, batch))
