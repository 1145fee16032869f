"""Supervision statements: the person's other bills a settle's rules read, flags, the
medians and their samples, the refresh's lease, the monthly counts (Core, both backends)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    MetaData,
    Table,
    and_,
    bindparam,
    case,
    delete,
    distinct,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from settlement.bills.models import REVOKED, SETTLED
from settlement.bills.repository import bills
from settlement.database import AnyRow, Conn, table_of
from settlement.hospitals.repository import hospitals
from settlement.supervision.models import OPEN, FlagRow, ItemSampleRow, StateRow, StatsRow

flags = table_of(FlagRow)
stats = table_of(StatsRow)
samples = table_of(ItemSampleRow)
state = table_of(StateRow)

STATE_STATS = "stats"

# ----------------------------------------------------------------------------- the settle

_PERSON_BILLS = select(
    bills.c.setl_id,
    bills.c.hospital_id,
    bills.c.visit_id,
    bills.c.visit_type,
    bills.c.admitted_on,
    bills.c.discharged_on,
    bills.c.diagnoses,
).where(
    bills.c.id_number == bindparam("person"),  # ix_bills_person_year (id_number, acc_year)
    bills.c.status == SETTLED,
    bills.c.visit_type == bindparam("visit_type"),
    bills.c.discharged_on >= bindparam("since"),
    bills.c.admitted_on <= bindparam("until"),
    bills.c.setl_id != bindparam("setl"),
    bills.c.diagnoses.like(bindparam("diagnosis"), escape="\\"),
)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def person_bills(
    conn: Conn,
    id_number: str,
    since: date,
    until: date,
    setl_id: str,
    *,
    visit_type: str,
    diagnosis: str | None = None,
) -> Sequence[AnyRow]:
    """The person's settled (not revoked) bills of ``visit_type``, at any hospital, whose
    stay touches ``[since, until]``, but ``setl_id``; with ``diagnosis``, only those whose
    main (first) diagnosis begins with it. (``diagnoses`` is stored as compact JSON text, a
    list, so the first diagnosis begins after ``["``.)"""
    pattern = f'["{_like_prefix(diagnosis)}%' if diagnosis else "%"
    params = {
        "person": id_number,
        "since": since,
        "until": until,
        "setl": setl_id,
        "visit_type": visit_type,
        "diagnosis": pattern,
    }
    return (await conn.execute(_PERSON_BILLS, params)).all()


_FLAG_COLUMNS = tuple(c.name for c in flags.columns if c.name != "id")


def _insert_flags(count: int) -> Any:
    """One ``INSERT … VALUES (…), (…)`` of ``count`` flags (one round trip, one bind)."""
    return insert(flags).values(
        [{name: bindparam(f"{name}_{i}") for name in _FLAG_COLUMNS} for i in range(count)]
    )


_INSERT_FLAGS = {count: _insert_flags(count) for count in range(1, 9)}
_INSERT_MANY = insert(flags)


async def insert_flags(conn: Conn, rows: Sequence[Mapping[str, Any]]) -> None:
    """A bill's flags (at most one per rule), in one statement."""
    stmt = _INSERT_FLAGS.get(len(rows))
    if stmt is None:
        await conn.execute(_INSERT_MANY, list(rows))
        return
    params = {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in _FLAG_COLUMNS}
    await conn.execute(stmt, params)


_BILL_FLAG_COLUMNS = (
    flags.c.setl_id,
    flags.c.rule,
    flags.c.title,
    flags.c.severity,
    flags.c.field,
    flags.c.message,
    flags.c.status,
)


async def flags_of(conn: Conn, setl_ids: Sequence[str]) -> dict[str, list[AnyRow]]:
    """Flags of bills, by ``setl_id``, in the order they were recorded."""
    out: dict[str, list[AnyRow]] = {}
    if not setl_ids:
        return out
    stmt = (
        select(*_BILL_FLAG_COLUMNS)
        .where(flags.c.setl_id.in_(list(setl_ids)))
        .order_by(flags.c.setl_id, flags.c.id)
    )
    for row in (await conn.execute(stmt)).all():
        out.setdefault(row.setl_id, []).append(row)
    return out


# ----------------------------------------------------------------------------- administrators

_LISTED = (
    flags,
    hospitals.c.code.label("hospital_code"),
    hospitals.c.name.label("hospital_name"),
    bills.c.visit_id,
    bills.c.visit_type,
    bills.c.id_number,
    bills.c.status.label("bill_status"),
    bills.c.medfee_sumamt,
)
_FROM = flags.join(bills, bills.c.setl_id == flags.c.setl_id).join(
    hospitals, hospitals.c.id == flags.c.hospital_id
)


def _filters(
    begin: date,
    end: date,
    *,
    rule: str | None,
    hospital_code: str | None,
    status: str | None,
) -> list[ColumnElement[bool]]:
    where = [flags.c.setl_date >= begin, flags.c.setl_date <= end]
    if rule is not None:
        where.append(flags.c.rule == rule)
    if hospital_code is not None:
        where.append(hospitals.c.code == hospital_code)
    if status is not None:
        where.append(flags.c.status == status)
    return where


async def list_flags(
    conn: Conn,
    begin: date,
    end: date,
    *,
    rule: str | None = None,
    hospital_code: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> Sequence[AnyRow]:
    """Flags of bills settled ``begin``..``end``, oldest first (by id), with their bill and
    hospital."""
    where = _filters(begin, end, rule=rule, hospital_code=hospital_code, status=status)
    if after is not None:
        where.append(flags.c.id > after)
    stmt = select(*_LISTED).select_from(_FROM).where(*where).order_by(flags.c.id).limit(limit)
    return (await conn.execute(stmt)).all()


async def get_flag(conn: Conn, flag_id: int) -> AnyRow | None:
    stmt = select(*_LISTED).select_from(_FROM).where(flags.c.id == flag_id)
    return (await conn.execute(stmt)).first()


_REVIEW = (
    update(flags)
    .where(flags.c.id == bindparam("flag_id"), flags.c.status == OPEN)
    .values(
        status=bindparam("new_status"),
        reviewed_by=bindparam("reviewer"),
        reviewed_at=bindparam("reviewed"),
        review_note=bindparam("note_text"),
    )
    .returning(flags.c.id)
)


async def review(
    conn: Conn, flag_id: int, *, status: str, by: str, at: datetime, note: str
) -> bool:
    """Close an open flag; ``False`` when it is not open (or not there)."""
    params = {
        "flag_id": flag_id,
        "new_status": status,
        "reviewer": by,
        "reviewed": at,
        "note_text": note,
    }
    return (await conn.execute(_REVIEW, params)).first() is not None


async def counts(conn: Conn, begin: date, end: date, by: str) -> Sequence[AnyRow]:
    """Flags of the period per ``rule`` or per ``hospital`` and status: ``(key, name,
    status, n)``."""
    where = _filters(begin, end, rule=None, hospital_code=None, status=None)
    if by == "rule":
        key: Any = flags.c.rule
        name: Any = func.max(flags.c.title)
        source: Any = flags
    else:
        key, name = hospitals.c.code, func.max(hospitals.c.name)
        source = flags.join(hospitals, hospitals.c.id == flags.c.hospital_id)
    stmt = (
        select(key.label("key"), name.label("name"), flags.c.status, func.count().label("n"))
        .select_from(source)
        .where(*where)
        .group_by(key, flags.c.status)
        .order_by(key)
    )
    return (await conn.execute(stmt)).all()


# ----------------------------------------------------------------------------- statistics

_LOAD_STATS = select(
    stats.c.kind, stats.c.key, stats.c.hospital_level, stats.c.median, stats.c.samples
)


async def load_stats(conn: Conn) -> Sequence[AnyRow]:
    return (await conn.execute(_LOAD_STATS)).all()


def _upsert_stats(dialect: Any) -> Any:
    stmt = dialect.insert(stats)
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key", "hospital_level"],
        set_={
            "median": stmt.excluded.median,
            "samples": stmt.excluded.samples,
            "refreshed_at": stmt.excluded.refreshed_at,
        },
    )


_UPSERT_STATS = {"postgresql": _upsert_stats(postgresql), "sqlite": _upsert_stats(sqlite)}


async def save_stats(conn: Conn, rows: Sequence[Mapping[str, Any]], refreshed_at: datetime) -> None:
    """Upsert this refresh's medians and drop the groups it no longer has."""
    if rows:
        await conn.execute(_UPSERT_STATS[conn.dialect], list(rows))
    await conn.execute(delete(stats).where(stats.c.refreshed_at < refreshed_at))


_BILLS_AFTER = (
    select(bills.c.setl_id, bills.c.hospital_level, bills.c.setl_date, bills.c["items"])
    .where(
        bills.c.setl_id > bindparam("after"),
        bills.c.setl_id < "T",  # bills' ids begin with S (reversals' with R): the PK's range
        bills.c.refd_setl_flag == 0,
    )
    .order_by(bills.c.setl_id)
    .limit(bindparam("limit"))
)


async def bills_after(conn: Conn, after: str, limit: int) -> Sequence[AnyRow]:
    """Bills whose ``setl_id`` sorts after ``after`` (ids are time-ordered), oldest first."""
    return (await conn.execute(_BILLS_AFTER, {"after": after, "limit": limit})).all()


SAMPLE_COLUMNS = ("setl_id", "line", "code", "hospital_level", "setl_date", "amount")
"""The values of a sample, in the order :func:`insert_samples` takes them."""
_INSERT_SAMPLES = sqlite.insert(samples).on_conflict_do_nothing()
_INCOMING = Table(
    "supervision_item_samples_incoming",
    MetaData(),
    *(Column(c.name, c.type) for c in samples.c),
    prefixes=["TEMPORARY"],
)
"""Where PostgreSQL's ``COPY`` puts a batch of samples first (``COPY`` cannot skip the lines
already there), dropped again in the same transaction."""
_CREATE_INCOMING = text(
    "CREATE TEMPORARY TABLE supervision_item_samples_incoming "
    "(LIKE supervision_item_samples) ON COMMIT DROP"
)
_MOVE_INCOMING = text(
    f"INSERT INTO supervision_item_samples ({', '.join(SAMPLE_COLUMNS)}) "
    f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM supervision_item_samples_incoming "
    "ON CONFLICT DO NOTHING"
)
_DROP_INCOMING = text("DROP TABLE supervision_item_samples_incoming")


async def insert_samples(conn: Conn, rows: Sequence[Sequence[Any]]) -> None:
    """Add fee lines (values in :data:`SAMPLE_COLUMNS` order; ``amount`` a ``Decimal``),
    keeping a line already there (the refresh re-reads the last minutes' bills). PostgreSQL:
    ``COPY`` into a temporary table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING``;
    SQLite: that insert, one per line. Inside the caller's transaction either way."""
    if not rows:
        return
    if conn.dialect != "postgresql":
        await conn.execute(
            _INSERT_SAMPLES, [dict(zip(SAMPLE_COLUMNS, r, strict=True)) for r in rows]
        )
        return
    await conn.execute(_CREATE_INCOMING)
    await conn.copy(_INCOMING, SAMPLE_COLUMNS, rows)
    await conn.execute(_MOVE_INCOMING)
    await conn.execute(_DROP_INCOMING)


async def delete_samples_before(conn: Conn, day: date) -> None:
    await conn.execute(delete(samples).where(samples.c.setl_date < day))


def _median_rows(amount: Any, groups: Sequence[Any], where: Sequence[Any]) -> Any:
    """``(group…, n, middle_sum, middle_count)``: the one or two middle values of each
    group's amounts (``row_number`` over the sorted amounts; the median is their mean)."""
    rn = func.row_number().over(partition_by=groups, order_by=amount).label("rn")
    n = func.count().over(partition_by=groups).label("n")
    ranked = select(*groups, amount.label("amount"), rn, n).where(*where).subquery()
    keys = [ranked.c[g.name] for g in groups]
    middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    return (
        select(
            *keys,
            ranked.c.n,
            func.sum(ranked.c.amount).label("middle_sum"),
            func.count().label("middle_count"),
        )
        .where(middle)
        .group_by(*keys, ranked.c.n)
    )


async def item_medians(conn: Conn, since: date) -> Sequence[AnyRow]:
    """Per item code and hospital level: ``(code, hospital_level, n, middle_sum,
    middle_count)`` over the samples from ``since``."""
    stmt = _median_rows(
        samples.c.amount, [samples.c.code, samples.c.hospital_level], [samples.c.setl_date >= since]
    )
    return (await conn.execute(stmt)).all()


async def bill_medians(conn: Conn, since: date) -> Sequence[AnyRow]:
    """Per visit type and hospital level, over the settled bills from ``since``."""
    stmt = _median_rows(
        bills.c.medfee_sumamt,
        [bills.c.visit_type, bills.c.hospital_level],
        [bills.c.status == SETTLED, bills.c.setl_date >= since],
    )
    return (await conn.execute(stmt)).all()


# ----------------------------------------------------------------------------- the lease

_ENSURE_STATE = {
    "postgresql": postgresql.insert(state).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(state).on_conflict_do_nothing(),
}
_TAKE_LEASE = (
    update(state)
    .where(
        state.c.name == bindparam("state_name"),
        or_(state.c.lease_until.is_(None), state.c.lease_until < bindparam("now_at")),
    )
    .values(lease_until=bindparam("lease_to"))
    .returning(state.c.refreshed_at, state.c.watermark)
)
_STATE = select(state.c.refreshed_at, state.c.watermark, state.c.lease_until).where(
    state.c.name == bindparam("state_name")
)


async def read_state(conn: Conn) -> AnyRow | None:
    return (await conn.execute(_STATE, {"state_name": STATE_STATS})).first()


async def take_lease(conn: Conn, now: datetime, until: datetime) -> AnyRow | None:
    """The refresh's lease until ``until`` (``None``: another instance holds it)."""
    await conn.execute(_ENSURE_STATE[conn.dialect], {"name": STATE_STATS})
    params = {"state_name": STATE_STATS, "now_at": now, "lease_to": until}
    return (await conn.execute(_TAKE_LEASE, params)).first()


async def finish_refresh(conn: Conn, refreshed_at: datetime | None, watermark: str | None) -> None:
    """Record a refresh (or only give the lease back, when ``refreshed_at`` is None)."""
    values: dict[str, Any] = {"lease_until": None}
    if refreshed_at is not None:
        values.update(refreshed_at=refreshed_at, watermark=watermark)
    await conn.execute(update(state).where(state.c.name == STATE_STATS).values(**values))


# ----------------------------------------------------------------------------- monthly view


async def monthly_counts(
    conn: Conn,
    begin: date,
    end: date,
    *,
    visit_types: Sequence[str],
    thresholds: Mapping[int, tuple[Decimal, Decimal]],
) -> Sequence[AnyRow]:
    """Per hospital and month of ``begin``..``end`` (bills booked then, revoked or not; no
    reversals): ``(hospital_id, year, month, bills, patients, key_patients, below)``;
    ``below`` counts bills whose ``inscp_scp_amt`` lies in ``[low, high)`` of their hospital
    level's ``thresholds``."""
    year = extract("year", bills.c.setl_date)
    month = extract("month", bills.c.setl_date)
    conditions = [
        and_(
            bills.c.hospital_level == level,
            bills.c.inscp_scp_amt >= low,
            bills.c.inscp_scp_amt < high,
        )
        for level, (low, high) in sorted(thresholds.items())
    ]
    below: Any = func.sum(case((or_(*conditions), 1), else_=0)) if conditions else literal(0)
    stmt = (
        select(
            bills.c.hospital_id,
            year.label("year"),
            month.label("month"),
            func.count().label("bills"),
            func.count(distinct(bills.c.id_number)).label("patients"),
            func.count(distinct(case((bills.c.aid_class == "key", bills.c.id_number)))).label(
                "key_patients"
            ),
            below.label("below"),
        )
        .where(
            bills.c.status.in_((SETTLED, REVOKED)),  # every bill: the (status, setl_date) index
            bills.c.refd_setl_flag == 0,
            bills.c.setl_date >= begin,
            bills.c.setl_date <= end,
            bills.c.visit_type.in_(list(visit_types)),
        )
        .group_by(bills.c.hospital_id, year, month)
    )
    return (await conn.execute(stmt)).all()


async def hospital_names(conn: Conn) -> dict[int, tuple[str, str]]:
    rows = (await conn.execute(select(hospitals.c.id, hospitals.c.code, hospitals.c.name))).all()
    return {row.id: (row.code, row.name) for row in rows}
