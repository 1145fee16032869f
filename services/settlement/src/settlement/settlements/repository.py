"""Bill rows: Core statements (reads, and the SQLite back-end of
:mod:`settlement.settlements.store`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.database import AnyRow, table_of
from settlement.settlements.models import SETTLED, BillFundRow, BillRow

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)

_FUND_COLUMNS = (
    bill_funds.c.setl_id,
    bill_funds.c.fund_pay_type,
    bill_funds.c.fund_pay_type_name,
    bill_funds.c.setlinfo_field,
    bill_funds.c.inscp_scp_amt,
    bill_funds.c.crt_payb_lmt_amt,
    bill_funds.c.fund_payamt,
    bill_funds.c.setl_proc_info,
)
_INSERT_FUNDS = insert(bill_funds)
# Built once; executing them only binds values (no statement construction per bill).
_INSERT_BILL = {
    "postgresql": postgresql.insert(bills).on_conflict_do_nothing().returning(bills.c.setl_id),
    "sqlite": sqlite.insert(bills).on_conflict_do_nothing().returning(bills.c.setl_id),
}


async def insert_bill(conn: AsyncConnection, values: dict[str, Any]) -> bool:
    """Insert unless the idempotency key or a settled bill of the visit is already there
    (``False`` then, and nothing written)."""
    result = await conn.execute(_INSERT_BILL[conn.dialect.name], values)
    return result.first() is not None


async def insert_funds(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_INSERT_FUNDS, list(rows))


async def find_duplicate(
    conn: AsyncConnection, hospital_id: int, idempotency_key: str, visit_id: str
) -> tuple[AnyRow | None, AnyRow | None]:
    """(the bill of this idempotency key, the settled bill of this visit) of a hospital."""
    rows = (
        await conn.execute(
            select(
                bills.c.setl_id,
                bills.c.idempotency_key,
                bills.c.request_hash,
                bills.c.visit_id,
                bills.c.status,
            ).where(
                bills.c.hospital_id == hospital_id,
                or_(
                    bills.c.idempotency_key == idempotency_key,
                    and_(bills.c.visit_id == visit_id, bills.c.status == SETTLED),
                ),
            )
        )
    ).all()
    by_key = next((r for r in rows if r.idempotency_key == idempotency_key), None)
    by_visit = next((r for r in rows if r.visit_id == visit_id and r.status == SETTLED), None)
    return by_key, by_visit


async def get(
    conn: AsyncConnection, setl_id: str, hospital_id: int, *, for_update: bool = False
) -> AnyRow | None:
    stmt = select(bills).where(bills.c.setl_id == setl_id, bills.c.hospital_id == hospital_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def funds_of(conn: AsyncConnection, setl_ids: Sequence[str]) -> dict[str, list[AnyRow]]:
    out: dict[str, list[AnyRow]] = {s: [] for s in setl_ids}
    if not setl_ids:
        return out
    rows = (
        await conn.execute(
            select(*_FUND_COLUMNS)
            .where(bill_funds.c.setl_id.in_(list(setl_ids)))
            .order_by(bill_funds.c.setl_id, bill_funds.c.seq)
        )
    ).all()
    for row in rows:
        out[row.setl_id].append(row)
    return out


async def mark_revoked(conn: AsyncConnection, setl_id: str, at: datetime) -> None:
    await conn.execute(
        update(bills).where(bills.c.setl_id == setl_id).values(status="revoked", revoked_at=at)
    )


async def page(
    conn: AsyncConnection,
    hospital_id: int,
    *,
    on: date,
    status: str | None,
    after: str | None,
    limit: int,
) -> Sequence[AnyRow]:
    stmt = select(bills).where(bills.c.hospital_id == hospital_id, bills.c.setl_date == on)
    if status is not None:
        stmt = stmt.where(bills.c.status == status)
    if after is not None:
        stmt = stmt.where(bills.c.setl_id > after)
    return (await conn.execute(stmt.order_by(bills.c.setl_id).limit(limit))).all()


async def hospital_has_billed(conn: AsyncConnection, hospital_id: int, id_number: str) -> bool:
    row = (
        await conn.execute(
            select(bills.c.setl_id)
            .where(bills.c.hospital_id == hospital_id, bills.c.id_number == id_number)
            .limit(1)
        )
    ).first()
    return row is not None


async def settled_deltas(conn: AsyncConnection, id_number: str, year: int) -> list[str]:
    """The ``deltas`` JSON of the person's settled bills of the year (for checks)."""
    rows = (
        await conn.execute(
            select(bills.c.deltas).where(
                bills.c.id_number == id_number,
                bills.c.acc_year == year,
                bills.c.status == SETTLED,
            )
        )
    ).all()
    return [r[0] for r in rows]
