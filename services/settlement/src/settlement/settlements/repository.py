"""Bill rows: Core statements only (the settle path makes few round trips and no ORM
objects)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    Select,
    String,
    Text,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.accumulators.models import Accumulator
from settlement.audit.models import AuditRecord
from settlement.database import AnyRow, table_of
from settlement.settlements.models import SETTLED, BillFundRow, BillRow

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)
accumulators = table_of(Accumulator)
audit_log = table_of(AuditRecord)

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


_FUND_FIELDS = (
    ("seq", Integer()),
    ("fund_pay_type", String()),
    ("fund_pay_type_name", String()),
    ("setlinfo_field", String()),
    ("inscp_scp_amt", Numeric(14, 2)),
    ("crt_payb_lmt_amt", Numeric(14, 2)),
    ("fund_payamt", Numeric(14, 2)),
    ("setl_proc_info", Text()),
)


def _settlement_statement() -> Select[tuple[str]]:
    """PostgreSQL: the bill, its fund rows, the moved running totals and the audit record in
    one statement (data-modifying CTEs), so a settle is lock → write → commit. The fund rows
    come as one array per column (``unnest``), so the statement is the same for any number
    of rows and SQLAlchemy compiles it once. Only the bill's ``ON CONFLICT DO NOTHING``
    decides: on a duplicate no CTE writes a row."""
    bill = (
        postgresql.insert(bills)
        .values({c.name: bindparam(f"b_{c.name}", type_=c.type) for c in bills.columns})
        .on_conflict_do_nothing()
        .returning(bills.c.setl_id)
        .cte("new_bill")
    )
    rows = (
        func.unnest(*(bindparam(f"f_{n}", type_=ARRAY(t)) for n, t in _FUND_FIELDS))
        .table_valued(*(name for name, _ in _FUND_FIELDS))
        .render_derived(name="f")
    )
    new_funds = (
        insert(bill_funds)
        .from_select(
            ["setl_id", *(name for name, _ in _FUND_FIELDS)],
            select(bill.c.setl_id, *(rows.c[name] for name, _ in _FUND_FIELDS))
            .select_from(bill)
            .join(rows, true()),
        )
        .cte("new_funds")
    )
    moved_totals = (
        update(accumulators)
        .where(
            accumulators.c.id_number == bindparam("acc_person"),
            accumulators.c.year == bindparam("acc_y"),
            exists(select(bill.c.setl_id)),
        )
        .values(
            totals=bindparam("acc_totals"),
            bills=accumulators.c.bills + 1,
            updated_at=bindparam("acc_now", type_=accumulators.c.updated_at.type),
        )
        .cte("moved_totals")
    )
    audit = (
        insert(audit_log)
        .from_select(
            ["at", "actor", "action", "subject", "request_id", "detail"],
            select(
                bindparam("a_at", type_=audit_log.c.at.type),
                bindparam("a_actor", type_=String()),
                literal("settle", String()),
                bill.c.setl_id,
                bindparam("a_request_id", type_=String()),
                bindparam("a_detail", type_=Text()),
            ).select_from(bill),
        )
        .cte("audit")
    )
    return select(bill.c.setl_id).add_cte(new_funds, moved_totals, audit)


_SETTLEMENT_PG = _settlement_statement()


async def write_settlement_pg(
    conn: AsyncConnection,
    bill: dict[str, Any],
    funds: Sequence[dict[str, Any]],
    *,
    totals_json: str,
    audit: dict[str, Any],
) -> bool:
    """The whole settle write in one round trip (PostgreSQL); ``False`` when the idempotency
    key or a settled bill of the visit is already there (nothing written)."""
    params: dict[str, Any] = {f"b_{k}": v for k, v in bill.items()}
    for name, _ in _FUND_FIELDS:
        params[f"f_{name}"] = [row[name] for row in funds]
    params.update(
        acc_person=bill["id_number"],
        acc_y=bill["acc_year"],
        acc_totals=totals_json,
        acc_now=audit["at"],
        a_at=audit["at"],
        a_actor=audit["actor"],
        a_request_id=audit["request_id"],
        a_detail=audit["detail"],
    )
    result = await conn.execute(_SETTLEMENT_PG, params)
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
