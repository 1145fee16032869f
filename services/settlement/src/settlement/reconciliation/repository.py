"""Reconciliation queries: the service's bills of a hospital's period, streamed in one query,
and the stored reconciliations (Core statements only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, select

from settlement.bills.models import REVOKED, SETTLED, BillRow
from settlement.database import AnyRow, Conn, table_of
from settlement.hospitals.models import Hospital
from settlement.hospitals.repository import HospitalRef
from settlement.reconciliation.models import Reconciliation, ReconciliationRow

bills = table_of(BillRow)
hospitals = table_of(Hospital)
reconciliations = table_of(Reconciliation)
reconciliation_rows = table_of(ReconciliationRow)

_HOSPITAL_COLUMNS = (
    hospitals.c.id,
    hospitals.c.code,
    hospitals.c.name,
    hospitals.c.level,
    hospitals.c.region_code,
)
STREAM_BATCH = 5000


async def hospital_by_code(conn: Conn, code: str) -> HospitalRef | None:
    row = (await conn.execute(select(*_HOSPITAL_COLUMNS).where(hospitals.c.code == code))).first()
    return HospitalRef(*row) if row else None


async def hospital_codes(conn: Conn, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(hospitals.c.id, hospitals.c.code).where(hospitals.c.id.in_(sorted(set(ids))))
    )
    return {int(r.id): str(r.code) for r in rows}


async def service_totals(
    conn: Conn,
    hospital_id: int,
    begin: date,
    end: date,
    *,
    visit_type: str | None,
    include_revoked: bool,
) -> tuple[int, Decimal, Decimal, Decimal]:
    """(records, Σ medfee_sumamt, Σ fund_pay_sumamt, Σ psn_cash_pay) of the hospital's books of
    the period: its bills settled in it and the reversals of the revokes made in it (net), or,
    with ``include_revoked``, the bills settled in it only (reversals left out)."""
    stmt = select(
        func.count(),
        func.sum(bills.c.medfee_sumamt),
        func.sum(bills.c.fund_pay_sumamt),
        func.sum(bills.c.psn_cash_pay),
    ).where(
        bills.c.hospital_id == hospital_id,
        bills.c.setl_date >= begin,
        bills.c.setl_date <= end,
    )
    if include_revoked:
        stmt = stmt.where(bills.c.refd_setl_flag == 0)
    if visit_type is not None:
        stmt = stmt.where(bills.c.visit_type == visit_type)
    row = (await conn.execute(stmt)).one()
    zero = Decimal("0.00")
    return int(row[0]), row[1] or zero, row[2] or zero, row[3] or zero


def status_at_end(end: date) -> Any:
    """A record's status as the books stood at the end of the period: a bill revoked after it
    was still ``settled`` then (its reversal belongs to a later period)."""
    revoked_later = and_(
        bills.c.status == REVOKED, bills.c.refd_setl_flag == 0, bills.c.revoked_on > end
    )
    return case((revoked_later, SETTLED), else_=bills.c.status)


async def stream_bills(
    conn: Conn, hospital_id: int, begin: date, end: date
) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
    """Every record of the hospital's books dated in the period (its bills and reversals), in
    batches, from one server-side cursor: only the columns reconciliation compares, the
    status as it stood at the end of the period. Each record is a plain tuple
    ``(setl_id, visit_id, id_number, medfee_sumamt, fund_pay_sumamt, status, refd_setl_flag,
    init_setl_id)``: its first seven values in the order of a hospital's ``BookBill``."""
    stmt = select(
        bills.c.setl_id,
        bills.c.visit_id,
        bills.c.id_number,
        bills.c.medfee_sumamt,
        bills.c.fund_pay_sumamt,
        status_at_end(end).label("status"),
        bills.c.refd_setl_flag,
        bills.c.init_setl_id,
    ).where(
        bills.c.hospital_id == hospital_id,
        bills.c.setl_date >= begin,
        bills.c.setl_date <= end,
    )
    async for batch in conn.stream(stmt, batch=STREAM_BATCH, tuples=True):
        yield batch


async def insert_reconciliation(conn: Conn, values: dict[str, Any]) -> int:
    result = await conn.execute(
        insert(reconciliations).values(**values).returning(reconciliations.c.id)
    )
    return int(result.scalar_one())


ROW_COLUMNS = (
    "reconciliation_id",
    "seq",
    "setl_id",
    "result",
    "visit_id",
    "status",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "differences",
    "refd_setl_flag",
    "init_setl_id",
)
"""The values of a stored row, in the order :func:`insert_rows` takes them."""


async def insert_rows(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """Store the mismatching rows (values in :data:`ROW_COLUMNS` order; amounts ``Decimal``,
    ``differences`` JSON text): PostgreSQL's ``COPY``, SQLite's executemany insert."""
    await conn.copy(reconciliation_rows, ROW_COLUMNS, rows)


_LIST_COLUMNS = (
    reconciliations.c.id,
    reconciliations.c.kind,
    reconciliations.c.hospital_id,
    hospitals.c.code.label("hospital_code"),
    reconciliations.c.begin_date,
    reconciliations.c.end_date,
    reconciliations.c.visit_type,
    reconciliations.c.include_revoked,
    reconciliations.c.matched,
    reconciliations.c.bill_count,
    reconciliations.c.mismatch_count,
    reconciliations.c.totals,
    reconciliations.c.counts,
    reconciliations.c.created_at,
    reconciliations.c.actor,
)


async def page(
    conn: Conn,
    *,
    hospital_id: int | None,
    matched: bool | None,
    before: int | None,
    limit: int,
) -> Sequence[AnyRow]:
    """Newest first (by id)."""
    stmt = select(*_LIST_COLUMNS).join(hospitals, hospitals.c.id == reconciliations.c.hospital_id)
    if hospital_id is not None:
        stmt = stmt.where(reconciliations.c.hospital_id == hospital_id)
    if matched is not None:
        stmt = stmt.where(reconciliations.c.matched == matched)
    if before is not None:
        stmt = stmt.where(reconciliations.c.id < before)
    return (await conn.execute(stmt.order_by(reconciliations.c.id.desc()).limit(limit))).all()


async def get(conn: Conn, reconciliation_id: int) -> AnyRow | None:
    stmt = (
        select(*_LIST_COLUMNS)
        .join(hospitals, hospitals.c.id == reconciliations.c.hospital_id)
        .where(reconciliations.c.id == reconciliation_id)
    )
    return (await conn.execute(stmt)).first()


async def rows_of(conn: Conn, reconciliation_id: int) -> Sequence[AnyRow]:
    stmt = (
        select(
            reconciliation_rows.c.setl_id,
            reconciliation_rows.c.result,
            reconciliation_rows.c.visit_id,
            reconciliation_rows.c.status,
            reconciliation_rows.c.medfee_sumamt,
            reconciliation_rows.c.fund_pay_sumamt,
            reconciliation_rows.c.differences,
            reconciliation_rows.c.refd_setl_flag,
            reconciliation_rows.c.init_setl_id,
        )
        .where(reconciliation_rows.c.reconciliation_id == reconciliation_id)
        .order_by(reconciliation_rows.c.seq)
    )
    return (await conn.execute(stmt)).all()
