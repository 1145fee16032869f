"""Bill rows (结算单) and their fund rows: every statement of settle, revoke and the bill
queries, written once as Core (see :class:`shared.db.Database` for how they run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import UpdateBase

from settlement.bills.models import (
    FUND_BILL_FIELDS,
    FUND_FIELDS,
    REVOKED,
    SETTLED,
    BillFundRow,
    BillRow,
)
from settlement.database import AnyRow, Conn, table_of

bills = table_of(BillRow)
bill_funds = table_of(BillFundRow)

_FUND_COLUMNS = (bill_funds.c.setl_id, *(bill_funds.c[name] for name in FUND_FIELDS))
_INSERT_FUNDS = insert(bill_funds)
# Built once; executing them only binds values (no statement construction per bill).
_INSERT_BILL = {
    "postgresql": postgresql.insert(bills).on_conflict_do_nothing().returning(bills.c.setl_id),
    "sqlite": sqlite.insert(bills).on_conflict_do_nothing().returning(bills.c.setl_id),
}


async def insert_bill(conn: Conn, values: Mapping[str, Any]) -> bool:
    """Insert unless the idempotency key or a settled bill of the visit is already there
    (``False`` then, and nothing written)."""
    result = await conn.execute(_INSERT_BILL[conn.dialect], values)
    return result.first() is not None


def with_bill_fields(
    bill: Mapping[str, Any], funds: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``bill_funds`` rows: each of ``funds`` (``setl_id``, ``seq`` and the ``FUND_FIELDS``)
    with the :data:`~settlement.bills.models.FUND_BILL_FIELDS` of ``bill`` (its ``bills`` row's
    values: ``setl_date``, ``refd_setl_flag``). Every writer of ``bill_funds`` goes through
    it."""
    carried = {name: bill[name] for name in FUND_BILL_FIELDS}
    return [{**fund, **carried} for fund in funds]


def fund_rows(bill: Mapping[str, Any], setldetail: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``bill_funds`` rows of a bill's ``setldetail`` (the engine's ``FundDetail``),
    numbered from 1; ``bill`` is the bill's ``bills`` row's values (its ``setl_id`` and
    ``FUND_BILL_FIELDS``)."""
    rows = [
        {"setl_id": bill["setl_id"], "seq": seq, **{n: getattr(d, n) for n in FUND_FIELDS}}
        for seq, d in enumerate(setldetail, start=1)
    ]
    return with_bill_fields(bill, rows)


async def insert_funds(conn: Conn, bill: Mapping[str, Any], setldetail: Sequence[Any]) -> None:
    """The bill's ``setldetail`` rows (:func:`fund_rows`)."""
    await conn.execute(_INSERT_FUNDS, fund_rows(bill, setldetail))


async def insert_settled(
    conn: Conn,
    values: Mapping[str, Any],
    setldetail: Sequence[Any],
    also: Sequence[tuple[UpdateBase, Mapping[str, Any]]],
) -> list[Any] | None:
    """A settled bill, its fund rows and ``also`` (statements, each with its parameters:
    an ``INSERT`` or ``UPDATE`` returning one column, parameter names distinct from each
    other's; e.g. the moved running totals and the audit record) in one round trip on
    PostgreSQL — one statement, the bill's insert with the others as data-modifying
    ``WITH`` parts — and one statement each on SQLite.

    The first value each of ``also`` returned (``None`` for no row), in order; ``None`` when
    the idempotency key or a settled bill of the visit is already there: no bill or fund row
    is written, and the caller rolls back (``also`` has run on PostgreSQL)."""
    if conn.dialect != "postgresql":
        if not await insert_bill(conn, values):
            return None
        await insert_funds(conn, values, setldetail)
        return [(await conn.execute(stmt, params)).scalar() for stmt, params in also]
    stmt, names = _settled_statement(tuple(values), tuple(s for s, _ in also))
    params = {f"b_{name}": value for name, value in values.items()}
    rows = fund_rows(values, setldetail)
    params.update({f"f_{name}": [row[name] for row in rows] for name in names})
    for _, more in also:
        params.update(more)
    row = (await conn.execute(stmt, params)).first()
    return None if row is None else list(row)[1:]


_SETTLED: dict[tuple[Any, ...], tuple[Select[Any], tuple[str, ...]]] = {}


def _settled_statement(
    columns: tuple[str, ...], also: tuple[UpdateBase, ...]
) -> tuple[Select[Any], tuple[str, ...]]:
    """PostgreSQL: ``WITH bill AS (INSERT … ON CONFLICT DO NOTHING RETURNING setl_id),
    funds AS (INSERT INTO bill_funds SELECT bill.setl_id, f.* FROM bill, unnest(arrays) f),
    also_1 AS (…) … SELECT bill.setl_id, (SELECT … FROM also_1), … FROM bill`` — built once
    per column set and statements (the names of the fund columns come with it)."""
    key = (columns, *(id(s) for s in also))
    if key not in _SETTLED:
        bill = (
            postgresql.insert(bills)
            .values({name: bindparam(f"b_{name}", type_=bills.c[name].type) for name in columns})
            .on_conflict_do_nothing()
            .returning(bills.c.setl_id)
            .cte("bill")
        )
        names = tuple(c.name for c in bill_funds.c if c.name != "setl_id")
        arrays = [
            bindparam(f"f_{name}", type_=postgresql.ARRAY(bill_funds.c[name].type))
            for name in names
        ]
        lines = func.unnest(*arrays).table_valued(*names).render_derived()
        funds = (
            insert(bill_funds)
            .from_select(
                ["setl_id", *names],
                select(bill.c.setl_id, *(lines.c[name] for name in names)),
            )
            .returning(bill_funds.c.seq)
            .cte("funds")
        )
        more = [s.cte(f"also_{n}") for n, s in enumerate(also, start=1)]
        returned = [select(*m.c).scalar_subquery() for m in more]
        _SETTLED[key] = (select(bill.c.setl_id, *returned).add_cte(funds), names)
    return _SETTLED[key]


async def find_duplicate(
    conn: Conn, hospital_id: int, idempotency_key: str, visit_id: str
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


_GET = select(bills).where(
    bills.c.setl_id == bindparam("setl"), bills.c.hospital_id == bindparam("hospital")
)
_GET_FOR_UPDATE = _GET.with_for_update()


async def get(
    conn: Conn, setl_id: str, hospital_id: int, *, for_update: bool = False
) -> AnyRow | None:
    stmt = _GET_FOR_UPDATE if for_update else _GET
    return (await conn.execute(stmt, {"setl": setl_id, "hospital": hospital_id})).first()


_GET_ANY = select(bills).where(bills.c.setl_id == bindparam("setl"))


async def get_any(conn: Conn, setl_id: str) -> AnyRow | None:
    """A bill of any hospital (the administrator's view)."""
    return (await conn.execute(_GET_ANY, {"setl": setl_id})).first()


async def funds_of(conn: Conn, setl_ids: Sequence[str]) -> dict[str, list[AnyRow]]:
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


_MARK_REVOKED = (
    update(bills)
    .where(bills.c.setl_id == bindparam("setl"))
    .values(status=REVOKED, revoked_at=bindparam("at"), revoked_on=bindparam("on"))
)


async def mark_revoked(conn: Conn, setl_id: str, at: datetime, on: date) -> None:
    """The bill is revoked at ``at``; its reversal is dated ``on`` (local)."""
    await conn.execute(_MARK_REVOKED, {"setl": setl_id, "at": at, "on": on})


_INSERT_REVERSAL = insert(bills)


async def insert_reversal(
    conn: Conn, values: Mapping[str, Any], funds: Sequence[dict[str, Any]]
) -> None:
    """A reversal row (``values``) and its fund rows (``setl_id``, ``seq``, ``FUND_FIELDS``;
    the reversal's ``FUND_BILL_FIELDS`` are added). The bill is locked: one reversal per bill,
    which ``uq_bills_init_setl_id`` also holds."""
    await conn.execute(_INSERT_REVERSAL, values)
    if funds:
        await conn.execute(_INSERT_FUNDS, with_bill_fields(values, funds))


async def reversals_of(conn: Conn, setl_ids: Sequence[str]) -> dict[str, AnyRow]:
    """Revoked bills' reversal rows, by the bill's ``setl_id``."""
    if not setl_ids:
        return {}
    stmt = select(bills).where(bills.c.init_setl_id.in_(list(setl_ids)))
    rows = (await conn.execute(stmt)).all()
    return {row.init_setl_id: row for row in rows}


async def page(
    conn: Conn,
    hospital_id: int,
    *,
    on: date,
    status: str | None,
    after: str | None,
    limit: int,
) -> Sequence[AnyRow]:
    stmt = select(bills).where(
        bills.c.hospital_id == hospital_id, bills.c.setl_date == on, bills.c.refd_setl_flag == 0
    )
    if status is not None:
        stmt = stmt.where(bills.c.status == status)
    if after is not None:
        stmt = stmt.where(bills.c.setl_id > after)
    return (await conn.execute(stmt.order_by(bills.c.setl_id).limit(limit))).all()


async def hospital_has_billed(conn: Conn, hospital_id: int, id_number: str) -> bool:
    row = (
        await conn.execute(
            select(bills.c.setl_id)
            .where(bills.c.hospital_id == hospital_id, bills.c.id_number == id_number)
            .limit(1)
        )
    ).first()
    return row is not None


_LATER_PARTS = (
    select(bills.c.setl_id)
    .where(
        bills.c.hospital_id == bindparam("hospital"),
        bills.c.visit_id == bindparam("visit"),
        bills.c.status == SETTLED,
        bills.c.setl_id != bindparam("setl"),
        bills.c.setl_time >= bindparam("after"),
    )
    .order_by(bills.c.setl_time.desc(), bills.c.setl_id.desc())
)


async def later_parts(conn: Conn, row: AnyRow) -> list[str]:
    """Settled bills of the same visit settled after ``row`` (newest first)."""
    params = {
        "hospital": row.hospital_id,
        "visit": row.visit_id,
        "setl": row.setl_id,
        "after": row.setl_time,
    }
    return [r.setl_id for r in (await conn.execute(_LATER_PARTS, params)).all()]


# Two stays overlap when both are non-empty half-open ranges [admitted_on, discharged_on) that
# intersect: the same rule as the PostgreSQL exclusion constraint ``ex_bills_inpatient_stay``.
_SAME_VISIT = (bills.c.hospital_id == bindparam("hospital")) & (
    bills.c.visit_id == bindparam("visit")
)
_OVERLAPS = (
    (bills.c.id_number == bindparam("person"))
    & (bills.c.visit_type == "inpatient")
    & ~_SAME_VISIT
    & (bills.c.admitted_on < bills.c.discharged_on)
    & (bills.c.admitted_on < bindparam("until"))
    & (bills.c.discharged_on > bindparam("since"))
)
"""A settled bill's stay overlaps ``[:since, :until)`` of another visit of ``:person``."""

_OVERLAPPING_STAY = (
    select(bills).where(bills.c.status == SETTLED, _OVERLAPS).order_by(bills.c.admitted_on).limit(1)
)
_STAY = (
    select(bills)
    .where(
        bills.c.status == SETTLED,
        (_SAME_VISIT & bills.c.interim.is_(True))
        | (bindparam("check_overlap", type_=Boolean) & _OVERLAPS),
    )
    .order_by(bills.c.setl_time, bills.c.setl_id)
)


async def stay_bills(
    conn: Conn,
    id_number: str,
    *,
    hospital_id: int,
    visit_id: str,
    since: date,
    until: date,
) -> tuple[list[AnyRow], AnyRow | None]:
    """In one read: the visit's settled interim parts (中途结算, oldest first), and a settled
    inpatient stay of the person, of another visit, that overlaps ``[since, until)`` (none
    looked for when the range is empty)."""
    params = {
        "person": id_number,
        "hospital": hospital_id,
        "visit": visit_id,
        "since": since,
        "until": until,
        "check_overlap": since < until,
    }
    parts: list[AnyRow] = []
    other: AnyRow | None = None
    for row in (await conn.execute(_STAY, params)).all():
        if row.hospital_id == hospital_id and row.visit_id == visit_id:
            parts.append(row)
        elif other is None:
            other = row
    return parts, other


async def overlapping_stay(
    conn: Conn,
    id_number: str,
    *,
    hospital_id: int,
    visit_id: str,
    since: date,
    until: date,
) -> AnyRow | None:
    """A settled inpatient stay of the person, of another visit, that overlaps
    ``[since, until)`` (``until`` > ``since``), or None."""
    params = {
        "person": id_number,
        "hospital": hospital_id,
        "visit": visit_id,
        "since": since,
        "until": until,
    }
    return (await conn.execute(_OVERLAPPING_STAY, params)).first()
