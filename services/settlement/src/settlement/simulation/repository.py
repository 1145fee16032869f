"""The records a simulation re-runs (bills and reversals), streamed in the order they were
made, person-year by person-year."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import date
from typing import cast

from sqlalchemy import and_, exists, func, select

from settlement.bills.models import BillRow
from settlement.database import AnyRow, Conn, table_of
from settlement.reports.repository import BOOKED
from settlement.simulation.replay import ReplayRow

bills = table_of(BillRow)
BATCH = 2000


async def stream_replay(
    conn: Conn, begin: date, end: date, share: tuple[int, int] | None = None
) -> AsyncGenerator[Sequence[AnyRow], None]:
    """Every record (bill or reversal) of a person-year that has a record in the period, made
    up to the period's end, ordered by person, year and time: the bills and revokes as they
    happened, so each record is re-run on the running totals it met. The columns are
    ``ReplayRow``'s.

    ``share`` ``(k, n)`` (PostgreSQL only): the records of the persons whose ID number hashes
    to ``k`` of ``n`` shares (``hashtext``), so ``n`` connections read disjoint sets of whole
    persons, together all of them."""
    in_period = bills.alias("in_period")
    touched = exists().where(
        and_(
            in_period.c.id_number == bills.c.id_number,
            in_period.c.acc_year == bills.c.acc_year,
            in_period.c.status.in_(BOOKED),
            in_period.c.setl_date >= begin,
            in_period.c.setl_date <= end,
        )
    )
    stmt = (
        select(*(bills.c[name] for name in ReplayRow._fields))
        .where(bills.c.status.in_(BOOKED), bills.c.setl_date <= end, touched)
        .order_by(bills.c.id_number, bills.c.acc_year, bills.c.setl_time, bills.c.setl_id)
    )
    if share is not None:
        k, n = share
        stmt = stmt.where(func.hashtext(bills.c.id_number).op("&")(0x7FFFFFFF) % n == k)
    # Closed here, while the connection is still held, when the caller stops early.
    stream = cast(AsyncGenerator[Sequence[AnyRow], None], conn.stream(stmt, batch=BATCH))
    async with aclosing(stream) as batches:
        async for batch in batches:
            yield batch
