"""Bulk import of the poverty office's CSV file: all or nothing, idempotent, set-based, in
memory that does not grow with the file.

1. The file is read as a stream (``csvfile``), each row checked on its own; the rows are
   written in chunks of ``BULK_CHUNK`` (PostgreSQL's ``COPY``, one executemany INSERT on
   SQLite) into a staging table, a temporary table of the import's transaction
   (:data:`staged_rows`), so Python holds one chunk at a time.
2. Unless the rows had problems or this is a dry run, the registry's write lock is taken
   (:func:`registry.database.serialize_writes`); the staged rows are then summed up in SQL,
   once per household, per person and per status period, each beside what the registry holds
   for it (:data:`staged_households`, :data:`staged_persons`, :data:`staged_periods`).
3. The checks across rows are queries on those tables: a household with two regions, a person
   with two households, names or relations, a period with two end dates, overlapping periods
   in the file. Any problem of step 1 or 3 → 422 listing every one, nothing written.
4. The checks against the registry, the same way (conflicts → 422, nothing written).
5. What is new is written by ``INSERT … SELECT`` from the staging tables, and what changes by
   ``UPDATE … FROM``, in the request's transaction; the change log is written in chunks.

Only the decisions that need a whole group at once run in Python: whether periods overlap
(:func:`registry.imports.csvfile.overlaps`), on the periods of one person or household at a
time, read from the database group by group, and only for the groups that have more than one.

Re-import rules (the file is the poverty office's view; history is never rewritten):

* households, persons and periods already in the registry and identical → unchanged;
* a person's name or relation that changed → updated (old and new value in the change log);
* a person listed in another household than the registry's → conflict (people are not moved
  between households by an import);
* a household's region that differs → conflict;
* a period (same person or household, category and ``effective_from``) that is open in the
  registry and has an ``effective_to`` in the file → ended on that date (an exit, 脱贫/销号);
* a period the registry has already ended on another date, or that the file would reopen →
  conflict;
* a new period overlapping another period of the same category for the same person or
  household → conflict.

Household-level categories (see ``registry.categories``) are stored once per household,
whichever member's row carries them; several rows may repeat the same household period.
Within the file, "the first row" of a household, person or period is the one with the
lowest line number; the others are compared with it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from registry.auth import Actor
from registry.changelog.service import Change, record
from registry.database import UtcDateTime, serialize_writes, utcnow
from registry.imports.csvfile import (
    FileReader,
    Interval,
    NotText,
    Problems,
    Record,
    RowError,
    overlaps,
)
from registry.imports.schemas import ImportResult
from registry.models import households, imports, persons, status_periods
from shared.csvfiles import FileRejected
from shared.db import Conn, session_conn

MAX_REPORTED_ERRORS = 10_000
"""A 422 lists at most this many problems (``error_count`` gives the total)."""

IMPORT_END_REASON = "import"

BULK_CHUNK = 20_000
"""Rows per ``COPY`` (or executemany) into the staging table, and per batch read back: the
rows of a large import are never all in memory at once."""

WORK_MEM = "64MB"
"""PostgreSQL's ``work_mem`` for the import's transaction: the sorts and hash tables over the
staging tables of a file of a million rows stay in memory rather than spill to disk."""


class ImportRejected(FileRejected):
    """The file cannot be imported; ``errors`` lists the first ``MAX_REPORTED_ERRORS``
    problems by (row, column) as {row, column, message}, ``error_count`` counts them all."""

    def __init__(self, problems: Problems | Sequence[RowError]) -> None:
        if not isinstance(problems, Problems):
            collected = Problems(MAX_REPORTED_ERRORS)
            for error in problems:
                collected.add(error)
            problems = collected
        super().__init__(problems.first()[:MAX_REPORTED_ERRORS], problems.count)


# ----------------------------------------------------------------------------- staging tables
#
# Temporary tables of the import's transaction (PostgreSQL drops them at commit or rollback;
# SQLite's are dropped when the import ends). No indexes: every query reads them whole
# (hash joins and aggregates on PostgreSQL).

_staging = MetaData()


def _temporary(name: str, *columns: Column[Any]) -> Table:
    return Table(name, _staging, *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


staged_rows = _temporary(
    "import_staged_rows",
    Column("line", Integer, nullable=False),
    Column("household_code", String, nullable=False),
    Column("region_code", String, nullable=False),
    Column("id_number", String, nullable=False),
    Column("name", String, nullable=False),
    Column("relation", String, nullable=False),
    Column("category", String),
    Column("effective_from", Date),
    Column("effective_to", Date),
    Column("kind", String),  # csvfile.Kind: h, p, or NULL without a category
)
"""The file's rows that are valid on their own, as read."""

staged_households = _temporary(
    "import_staged_households",
    Column("household_code", String, nullable=False),
    Column("line", Integer, nullable=False),  # the household's first row
    Column("region_code", String, nullable=False),  # the lowest of the file's regions
    Column("varies", Boolean, nullable=False),  # the file gives it several regions
    Column("registered_id", Integer),
    Column("registered_region", String),
)
"""One row per household of the file, beside the registry's household of that code."""

staged_persons = _temporary(
    "import_staged_persons",
    Column("id_number", String, nullable=False),
    Column("line", Integer, nullable=False),  # the person's first row
    Column("household_code", String, nullable=False),  # lowest of the file's values
    Column("name", String, nullable=False),
    Column("relation", String, nullable=False),
    Column("varies", Boolean, nullable=False),  # household, name or relation vary
    Column("registered_id", Integer),
    Column("registered_household_id", Integer),
    Column("registered_household_code", String),
    Column("registered_name", String),
    Column("registered_relation", String),
)
"""One row per person (ID number) of the file, beside the registry's person."""

staged_periods = _temporary(
    "import_staged_periods",
    Column("kind", String, nullable=False),
    Column("subject", String, nullable=False),  # household code (h) or ID number (p)
    Column("category", String, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("line", Integer, nullable=False),  # the period's first row
    Column("effective_to", Date),  # the first row's
    Column("varies", Boolean, nullable=False),  # the rows give several end dates
    Column("household_code", String, nullable=False),
    Column("owner_id", Integer),  # the registered person (p) or household (h)
    Column("period_id", Integer),  # the registry's period of this key
    Column("registered_to", Date),
    Column("status", String),  # new, same, close (the registry's is open), ended
)
"""One row per status period of the file: (kind, subject, category, effective_from), beside
the registry's period of that key."""

_STAGING = (staged_rows, staged_households, staged_persons, staged_periods)

_COLUMNS = [c.name for c in staged_rows.columns]


def _subject(rows: Table) -> ColumnElement[str]:
    """Whose period a staged row records: the household's code or the person's ID number."""
    return case((rows.c.kind == "h", rows.c.household_code), else_=rows.c.id_number)


def _varies(low: ColumnElement[Any], high: ColumnElement[Any]) -> ColumnElement[bool]:
    return case((low != high, True), else_=False)


# ----------------------------------------------------------------------------- the import


@dataclass(frozen=True)
class _Counts:
    households: int
    households_registered: int
    persons: int
    persons_registered: int
    persons_updated: int
    periods_new: int
    periods_closed: int
    periods_same: int

    @property
    def changes(self) -> bool:
        return bool(
            self.households > self.households_registered
            or self.persons > self.persons_registered
            or self.persons_updated
            or self.periods_new
            or self.periods_closed
        )

    def result(self, *, dry_run: bool, rows: int, import_id: int | None = None) -> ImportResult:
        return ImportResult.model_validate(
            {
                "dry_run": dry_run,
                "changed": self.changes and not dry_run,
                "import_id": import_id,
                "rows": rows,
                "households": {
                    "created": self.households - self.households_registered,
                    "unchanged": self.households_registered,
                },
                "persons": {
                    "created": self.persons - self.persons_registered,
                    "updated": self.persons_updated,
                    "unchanged": self.persons_registered - self.persons_updated,
                },
                "periods": {
                    "created": self.periods_new,
                    "closed": self.periods_closed,
                    "unchanged": self.periods_same,
                },
            }
        )


async def import_csv(
    session: AsyncSession,
    source: bytes | BinaryIO,
    *,
    actor: Actor,
    dry_run: bool = False,
) -> ImportResult:
    """Validate the file (bytes, or a binary stream that can seek, read once from its start)
    and, unless ``dry_run``, apply it in the session's transaction; raises
    :class:`ImportRejected`, having written nothing the transaction keeps."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    conn = await session_conn(session)
    await _create_staging(conn, session)
    try:
        return await _import(session, conn, stream, actor=actor, dry_run=dry_run)
    finally:
        if conn.dialect == "sqlite":  # PostgreSQL drops them with the transaction
            await _drop_staging(conn)


async def _import(
    session: AsyncSession, conn: Conn, stream: BinaryIO, *, actor: Actor, dry_run: bool
) -> ImportResult:
    if conn.dialect == "postgresql":
        await conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    problems = Problems(MAX_REPORTED_ERRORS)
    reader = FileReader(stream, problems)
    try:
        await _stage(conn, reader)
    except NotText as exc:
        raise ImportRejected([exc.error]) from None
    if not dry_run and not problems:
        await serialize_writes(session)
    await _summarise(conn)
    await _file_problems(conn, problems)
    if problems:
        raise ImportRejected(problems)
    await _registry_problems(conn, problems)
    if problems:
        raise ImportRejected(problems)
    counts = await _counts(conn)
    if dry_run or not counts.changes:
        return counts.result(dry_run=dry_run, rows=reader.rows)
    import_id = await _apply(session, conn, counts, actor, reader.sha256, reader.rows)
    return counts.result(dry_run=False, rows=reader.rows, import_id=import_id)


def _temporary_name(conn: Conn, table: Table) -> str:
    """The table's name in the connection's schema of temporary tables (never a permanent
    table of the same name)."""
    return f"{'pg_temp' if conn.dialect == 'postgresql' else 'temp'}.{table.name}"


async def _drop_staging(conn: Conn) -> None:
    for table in _STAGING:
        await conn.execute(text(f"DROP TABLE IF EXISTS {_temporary_name(conn, table)}"))


async def _create_staging(conn: Conn, session: AsyncSession) -> None:
    """The staging tables, empty (left over by an earlier import on this SQLite connection, or
    in this transaction, they are dropped first)."""
    await _drop_staging(conn)
    dialect = session.get_bind().dialect
    for table in _STAGING:
        await conn.execute(text(str(CreateTable(table).compile(dialect=dialect))))


async def _analyze(conn: Conn, table: Table) -> None:
    """Statistics for the planner (PostgreSQL never gathers them for temporary tables)."""
    if conn.dialect == "postgresql":
        await conn.execute(text(f"ANALYZE {_temporary_name(conn, table)}"))


async def _stage(conn: Conn, reader: FileReader) -> None:
    """The rows valid on their own into :data:`staged_rows`, ``BULK_CHUNK`` at a time."""
    chunk: list[Record] = []
    for row in reader:
        chunk.append(row)
        if len(chunk) >= BULK_CHUNK:
            await conn.copy(staged_rows, _COLUMNS, chunk)
            chunk = []
    await conn.copy(staged_rows, _COLUMNS, chunk)
    await _analyze(conn, staged_rows)


async def _summarise(conn: Conn) -> None:
    """The staged rows grouped by household, person and period, each group beside the
    registry's record of the same key (:data:`staged_households` …)."""
    r = staged_rows
    grouped = (
        select(
            r.c.household_code,
            func.min(r.c.line).label("line"),
            func.min(r.c.region_code).label("region_code"),
            _varies(func.min(r.c.region_code), func.max(r.c.region_code)).label("varies"),
        )
        .group_by(r.c.household_code)
        .subquery()
    )
    await conn.execute(
        insert(staged_households).from_select(
            [c.name for c in staged_households.columns],
            select(
                grouped,
                households.c.id,
                households.c.region_code,
            ).select_from(
                grouped.outerjoin(
                    households, households.c.household_code == grouped.c.household_code
                )
            ),
        )
    )
    await _analyze(conn, staged_households)

    grouped = (
        select(
            r.c.id_number,
            func.min(r.c.line).label("line"),
            func.min(r.c.household_code).label("household_code"),
            func.min(r.c.name).label("name"),
            func.min(r.c.relation).label("relation"),
            case(
                (
                    or_(
                        func.min(r.c.household_code) != func.max(r.c.household_code),
                        func.min(r.c.name) != func.max(r.c.name),
                        func.min(r.c.relation) != func.max(r.c.relation),
                    ),
                    True,
                ),
                else_=False,
            ).label("varies"),
        )
        .group_by(r.c.id_number)
        .subquery()
    )
    member_of = households.alias("member_of")
    await conn.execute(
        insert(staged_persons).from_select(
            [c.name for c in staged_persons.columns],
            select(
                grouped,
                persons.c.id,
                persons.c.household_id,
                member_of.c.household_code,
                persons.c.name,
                persons.c.relation,
            ).select_from(
                grouped.outerjoin(persons, persons.c.id_number == grouped.c.id_number).outerjoin(
                    member_of, member_of.c.id == persons.c.household_id
                )
            ),
        )
    )
    await _analyze(conn, staged_persons)

    subject = _subject(r).label("subject")
    end = r.c.effective_to
    grouped = (
        select(
            r.c.kind,
            subject,
            r.c.category,
            r.c.effective_from,
            func.min(r.c.line).label("line"),
            func.min(end).label("effective_to"),
            case(
                (
                    or_(
                        func.min(end) != func.max(end),
                        and_(func.count(end) > 0, func.count(end) < func.count()),
                    ),
                    True,
                ),
                else_=False,
            ).label("varies"),
            func.min(r.c.household_code).label("household_code"),
        )
        .where(r.c.kind.is_not(None))
        .group_by(r.c.kind, subject, r.c.category, r.c.effective_from)
        .subquery()
    )
    person = persons.alias("owner_person")
    household = households.alias("owner_household")
    person_period = status_periods.alias("person_period")
    household_period = status_periods.alias("household_period")
    period_id = func.coalesce(person_period.c.id, household_period.c.id)
    registered_to = case(
        (person_period.c.id.is_not(None), person_period.c.effective_to),
        else_=household_period.c.effective_to,
    )
    status = case(
        (period_id.is_(None), "new"),
        (registered_to.is_not_distinct_from(grouped.c.effective_to), "same"),
        (registered_to.is_(None), "close"),
        else_="ended",
    )
    await conn.execute(
        insert(staged_periods).from_select(
            [c.name for c in staged_periods.columns],
            select(
                grouped,
                func.coalesce(person.c.id, household.c.id),
                period_id,
                registered_to,
                status,
            ).select_from(
                grouped.outerjoin(
                    person, and_(grouped.c.kind == "p", person.c.id_number == grouped.c.subject)
                )
                .outerjoin(
                    household,
                    and_(grouped.c.kind == "h", household.c.household_code == grouped.c.subject),
                )
                .outerjoin(
                    person_period,
                    and_(
                        person_period.c.person_id == person.c.id,
                        person_period.c.category == grouped.c.category,
                        person_period.c.effective_from == grouped.c.effective_from,
                    ),
                )
                .outerjoin(
                    household_period,
                    and_(
                        household_period.c.person_id.is_(None),
                        household_period.c.household_id == household.c.id,
                        household_period.c.category == grouped.c.category,
                        household_period.c.effective_from == grouped.c.effective_from,
                    ),
                )
            ),
        )
    )
    await _analyze(conn, staged_periods)


async def _any(conn: Conn, condition: ColumnElement[bool], table: Table) -> bool:
    found = await conn.execute(select(literal(1)).select_from(table).where(condition).limit(1))
    return found.first() is not None


async def _file_problems(conn: Conn, problems: Problems) -> None:
    """Rows that disagree with the first row of their household (region), person (household,
    name, relation) or period (end date); periods of the file that overlap."""
    r = staged_rows
    first = staged_rows.alias("first_row")

    h = staged_households
    if await _any(conn, h.c.varies, h):
        query = (
            select(r.c.line, r.c.household_code, first.c.region_code, first.c.line)
            .select_from(
                h.join(r, r.c.household_code == h.c.household_code).join(
                    first, first.c.line == h.c.line
                )
            )
            .where(h.c.varies, r.c.region_code != first.c.region_code)
        )
        async for batch in conn.stream(query, batch=BULK_CHUNK):
            for line, code, region, first_line in batch:
                problems.add(
                    RowError(
                        line,
                        "region_code",
                        f"household {code} has region {region} on line {first_line}",
                    )
                )

    p = staged_persons
    if await _any(conn, p.c.varies, p):
        columns = ("household_code", "name", "relation")
        query = (
            select(r.c.line, first.c.line, *(r.c[c] != first.c[c] for c in columns))
            .select_from(
                p.join(r, r.c.id_number == p.c.id_number).join(first, first.c.line == p.c.line)
            )
            .where(p.c.varies, or_(*(r.c[c] != first.c[c] for c in columns)))
        )
        async for batch in conn.stream(query, batch=BULK_CHUNK):
            for line, first_line, *differ in batch:
                for column, differs in zip(columns, differ, strict=True):
                    if differs:
                        problems.add(
                            RowError(
                                line,
                                column,
                                f"differs from line {first_line} for the same id_number",
                            )
                        )

    d = staged_periods
    if await _any(conn, d.c.varies, d):
        same_key = and_(
            r.c.kind == d.c.kind,
            _subject(r) == d.c.subject,
            r.c.category == d.c.category,
            r.c.effective_from == d.c.effective_from,
        )
        query = (
            select(r.c.line, first.c.line, d.c.category, d.c.effective_from)
            .select_from(d.join(r, same_key).join(first, first.c.line == d.c.line))
            .where(d.c.varies, r.c.effective_to.is_distinct_from(first.c.effective_to))
        )
        async for batch in conn.stream(query, batch=BULK_CHUNK):
            for line, first_line, category, start in batch:
                problems.add(
                    RowError(
                        line,
                        "effective_to",
                        f"differs from line {first_line} for the same {category} period "
                        f"starting {start.isoformat()}",
                    )
                )
        # The overlap check sees each period as its first row gives it.
        await conn.execute(
            update(d)
            .where(d.c.varies, first.c.line == d.c.line)
            .values(effective_to=first.c.effective_to)
        )

    group = (d.c.kind, d.c.subject, d.c.category)
    several = select(*group).group_by(*group).having(func.count() > 1).subquery()
    periods: Select[Any] = (
        select(*group, d.c.effective_from, d.c.effective_to, d.c.line)
        .join(several, and_(*(c == several.c[c.name] for c in group)))
        .order_by(*group)
    )
    await _overlap_problems(conn, periods, problems)


async def _overlap_problems(conn: Conn, query: Select[Any], problems: Problems) -> None:
    """:func:`overlaps` on each (kind, subject, category) group of intervals the query gives
    as (kind, subject, category, start, end, line), ordered by group: one group in memory at
    a time."""
    group: tuple[str, str, str] | None = None
    intervals: list[Interval] = []

    def check() -> None:
        if group is not None and len(intervals) > 1:
            for error in overlaps(group[2], intervals):
                problems.add(error)

    async for batch in conn.stream(query, batch=BULK_CHUNK):
        for kind, subject, category, start, end, line in batch:
            if (kind, subject, category) != group:
                check()
                group, intervals = (kind, subject, category), []
            intervals.append(Interval(start, end, line))
    check()


async def _registry_problems(conn: Conn, problems: Problems) -> None:
    """What the file may not change in the registry: a household's region, a person's
    household, an ended period's end; and new periods (or periods the file ends) that would
    overlap one of the registry's."""
    h = staged_households
    query = select(h.c.line, h.c.household_code, h.c.registered_region).where(
        h.c.registered_id.is_not(None), h.c.registered_region != h.c.region_code
    )
    async for batch in conn.stream(query, batch=BULK_CHUNK):
        for line, code, region in batch:
            problems.add(
                RowError(
                    line, "region_code", f"household {code} is registered with region {region}"
                )
            )

    p = staged_persons
    query = select(p.c.line, p.c.registered_household_code).where(
        p.c.registered_id.is_not(None), p.c.registered_household_code != p.c.household_code
    )
    async for batch in conn.stream(query, batch=BULK_CHUNK):
        for line, code in batch:
            problems.add(
                RowError(
                    line,
                    "household_code",
                    f"this person is registered in household {code}; "
                    "an import does not move a person to another household",
                )
            )

    d = staged_periods
    query = select(d.c.line, d.c.category, d.c.registered_to).where(d.c.status == "ended")
    async for batch in conn.stream(query, batch=BULK_CHUNK):
        for line, category, ended in batch:
            problems.add(
                RowError(
                    line,
                    "effective_to",
                    f"the registry ended this {category} period on {ended.isoformat()}; "
                    "an import does not rewrite history",
                )
            )

    for kind in ("p", "h"):
        await _overlap_problems(conn, _registry_intervals(kind), problems)


def _registry_intervals(kind: str) -> Select[Any]:
    """The periods of every (subject, category) group of ``kind`` the file changes (a new
    period, or one it ends) and the registry holds a period of: the registry's (as the file
    ends them, on the closing row's line) and the file's new ones, ordered by group."""
    d = staged_periods
    changing = d.c.status.in_(("new", "close"))
    touched = (
        select(d.c.kind, d.c.subject, d.c.category, d.c.owner_id)
        .where(d.c.kind == kind, changing, d.c.owner_id.is_not(None))
        .distinct()
        .subquery()
    )
    s = status_periods
    owned = (
        s.c.person_id == touched.c.owner_id
        if kind == "p"
        else and_(s.c.person_id.is_(None), s.c.household_id == touched.c.owner_id)
    )
    closing = staged_periods.alias("closing")
    registered = select(
        touched.c.kind,
        touched.c.subject,
        touched.c.category,
        s.c.effective_from,
        case((closing.c.line.is_not(None), closing.c.effective_to), else_=s.c.effective_to),
        closing.c.line,
    ).select_from(
        touched.join(s, and_(owned, s.c.category == touched.c.category)).outerjoin(
            closing, and_(closing.c.period_id == s.c.id, closing.c.status == "close")
        )
    )
    new = select(
        d.c.kind, d.c.subject, d.c.category, d.c.effective_from, d.c.effective_to, d.c.line
    ).where(d.c.kind == kind, d.c.status == "new", d.c.owner_id.is_not(None))
    both = union_all(registered, new).subquery()
    return select(both).order_by(both.c.kind, both.c.subject, both.c.category)


async def _counts(conn: Conn) -> _Counts:
    h, p, d = staged_households, staged_persons, staged_periods
    households_row = (await conn.execute(select(func.count(), func.count(h.c.registered_id)))).one()
    updated = and_(
        p.c.registered_id.is_not(None),
        or_(p.c.registered_name != p.c.name, p.c.registered_relation != p.c.relation),
    )
    persons_row = (
        await conn.execute(
            select(
                func.count(),
                func.count(p.c.registered_id),
                func.coalesce(func.sum(case((updated, 1), else_=0)), 0),
            )
        )
    ).one()
    statuses = select(d.c.status, func.count()).group_by(d.c.status)
    by_status: dict[str, int] = dict((await conn.execute(statuses)).all())
    return _Counts(
        households=households_row[0],
        households_registered=households_row[1],
        persons=persons_row[0],
        persons_registered=persons_row[1],
        persons_updated=int(persons_row[2]),
        periods_new=by_status.get("new", 0),
        periods_closed=by_status.get("close", 0),
        periods_same=by_status.get("same", 0),
    )


async def _apply(
    session: AsyncSession,
    conn: Conn,
    counts: _Counts,
    actor: Actor,
    digest: str,
    row_count: int,
) -> int:
    now = utcnow()
    summary = counts.result(dry_run=False, rows=row_count).model_dump(
        include={"households", "persons", "periods"}
    )
    import_id = int(
        (
            await conn.execute(
                insert(imports)
                .values(
                    created_at=now,
                    actor=actor.identity,
                    request_id=actor.request_id,
                    sha256=digest,
                    rows=row_count,
                    summary=summary,
                )
                .returning(imports.c.id)
            )
        ).scalar_one()
    )
    await record(
        session,
        actor,
        [Change("import", "import", import_id, details={"sha256": digest, "rows": row_count})],
    )
    stamp = (
        literal(now, UtcDateTime()).label("created_at"),
        literal(actor.identity, String()).label("created_by"),
        literal(import_id, Integer()).label("import_id"),
    )
    await _insert_households(conn, stamp)
    await _insert_persons(conn, stamp)
    await _update_persons(session, conn, actor, import_id, now)
    await _insert_periods(conn, stamp)
    await _close_periods(session, conn, actor, import_id, now)
    return import_id


Stamp = tuple[ColumnElement[datetime], ColumnElement[str], ColumnElement[int]]


async def _insert_households(conn: Conn, stamp: Stamp) -> None:
    h = staged_households
    await conn.execute(
        insert(households).from_select(
            ["household_code", "region_code", "created_at", "created_by", "import_id"],
            select(h.c.household_code, h.c.region_code, *stamp)
            .where(h.c.registered_id.is_(None))
            .order_by(h.c.line),
        )
    )


async def _insert_persons(conn: Conn, stamp: Stamp) -> None:
    p = staged_persons
    await conn.execute(
        insert(persons).from_select(
            ["id_number", "household_id", "name", "relation", "created_at", "created_by"]
            + ["import_id"],
            select(p.c.id_number, households.c.id, p.c.name, p.c.relation, *stamp)
            .join(households, households.c.household_code == p.c.household_code)
            .where(p.c.registered_id.is_(None))
            .order_by(p.c.line),
        )
    )


async def _update_persons(
    session: AsyncSession, conn: Conn, actor: Actor, import_id: int, now: datetime
) -> None:
    """New names and relations of registered persons, each in the change log."""
    p = staged_persons
    changed = and_(
        p.c.registered_id.is_not(None),
        or_(p.c.registered_name != p.c.name, p.c.registered_relation != p.c.relation),
    )
    query = (
        select(
            p.c.registered_id,
            p.c.registered_household_id,
            p.c.registered_name,
            p.c.registered_relation,
            p.c.name,
            p.c.relation,
        )
        .where(changed)
        .order_by(p.c.line)
    )
    async for batch in conn.stream(query, batch=BULK_CHUNK):
        await record(
            session,
            actor,
            [
                Change(
                    "person.update",
                    "person",
                    person_id,
                    household_id=household_id,
                    person_id=person_id,
                    details={
                        "import_id": import_id,
                        "before": {"name": old_name, "relation": old_relation},
                        "after": {"name": name, "relation": relation},
                    },
                )
                for person_id, household_id, old_name, old_relation, name, relation in batch
            ],
        )
    await conn.execute(
        update(persons)
        .where(persons.c.id == p.c.registered_id, changed)
        .values(name=p.c.name, relation=p.c.relation, updated_at=now)
    )


async def _insert_periods(conn: Conn, stamp: Stamp) -> None:
    d = staged_periods
    owner = persons.alias("owner")
    await conn.execute(
        insert(status_periods).from_select(
            ["household_id", "person_id", "category", "effective_from", "effective_to", "note"]
            + ["created_at", "created_by", "import_id"],
            select(
                households.c.id,
                case((d.c.kind == "p", owner.c.id)),
                d.c.category,
                d.c.effective_from,
                d.c.effective_to,
                null(),
                *stamp,
            )
            .select_from(
                d.join(households, households.c.household_code == d.c.household_code).outerjoin(
                    owner, and_(d.c.kind == "p", owner.c.id_number == d.c.subject)
                )
            )
            .where(d.c.status == "new")
            .order_by(d.c.line),
        )
    )


async def _close_periods(
    session: AsyncSession, conn: Conn, actor: Actor, import_id: int, now: datetime
) -> None:
    """Open periods of the registry that the file ends, each in the change log."""
    d = staged_periods
    s = status_periods
    query = (
        select(s.c.id, s.c.household_id, s.c.person_id, s.c.category, d.c.effective_to)
        .join(s, s.c.id == d.c.period_id)
        .where(d.c.status == "close")
        .order_by(d.c.line)
    )
    async for batch in conn.stream(query, batch=BULK_CHUNK):
        await record(
            session,
            actor,
            [
                Change(
                    "status.end",
                    "status_period",
                    period_id,
                    household_id=household_id,
                    person_id=person_id,
                    details={
                        "import_id": import_id,
                        "category": category,
                        "effective_to": _iso(end),
                        "reason": IMPORT_END_REASON,
                    },
                )
                for period_id, household_id, person_id, category, end in batch
            ],
        )
    await conn.execute(
        update(s)
        .where(s.c.id == d.c.period_id, d.c.status == "close")
        .values(
            effective_to=d.c.effective_to,
            ended_at=now,
            ended_by=actor.identity,
            end_reason=IMPORT_END_REASON,
        )
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
