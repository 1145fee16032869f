"""The bills a simulation re-runs, streamed in settle order, person-year by person-year."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date

from sqlalchemy import and_, exists, select

from settlement.database import AnyRow, Conn, table_of
from settlement.settlements.models import SETTLED, BillRow

bills = table_of(BillRow)
BATCH = 2000


async def stream_replay(conn: Conn, begin: date, end: date) -> AsyncIterator[Sequence[AnyRow]]:
    """Every settled bill of a person-year that has a settled bill in the period, settled up
    to the period's end, ordered by person, year and settle time."""
    in_period = bills.alias("in_period")
    touched = exists().where(
        and_(
            in_period.c.id_number == bills.c.id_number,
            in_period.c.acc_year == bills.c.acc_year,
            in_period.c.status == SETTLED,
            in_period.c.setl_date >= begin,
            in_period.c.setl_date <= end,
        )
    )
    stmt = (
        select(
            bills.c.setl_id,
            bills.c.id_number,
            bills.c.acc_year,
            bills.c.setl_date,
            bills.c.visit_type,
            bills.c.hospital_level,
            bills.c.categories,
            bills.c["items"],
            bills.c.deltas,
            bills.c.policy_version,
            bills.c.fund_pay_sumamt,
            bills.c.psn_cash_pay,
        )
        .where(bills.c.status == SETTLED, bills.c.setl_date <= end, touched)
        .order_by(bills.c.id_number, bills.c.acc_year, bills.c.setl_time, bills.c.setl_id)
    )
    async for batch in conn.stream(stmt, batch=BATCH):
        yield batch
