"""Bulk import of the poverty office's CSV file: all or nothing, idempotent, set-based.

1. The file is read and checked on its own (``csvfile``); any problem → 422, nothing read
   from or written to the database.
2. Under the registry's write lock, the current state of the file's households, persons and
   periods is loaded in four queries (each key list passed as one parameter) and compared
   with the file (conflicts → 422, nothing written).
3. What is new is written in bulk (COPY on PostgreSQL, one executemany INSERT per table on
   SQLite; keys allocated up front), in the request's transaction.

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
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, islice
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth import Actor
from registry.changelog.service import Change, record
from registry.database import serialize_writes, utcnow
from registry.imports.schemas import ImportResult
from registry.models import households, imports, persons, status_periods
from shared.errors import Unprocessable
from tests.registry.import_before.csvfile import (
    ImportRow,
    Interval,
    PeriodKey,
    RowError,
    SubjectKind,
    overlaps,
    parse_csv,
    period_key,
)

MAX_REPORTED_ERRORS = 10_000
"""A 422 lists at most this many problems (``error_count`` gives the total)."""

IMPORT_END_REASON = "import"

GroupKey = tuple[SubjectKind, str, str]


class ImportRejected(Unprocessable):
    """The file cannot be imported; ``errors`` lists every problem as {row, column, message}."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.row, e.column or ""))
        shown = ordered[:MAX_REPORTED_ERRORS]
        count = len(ordered)
        detail = f"The file has {count} problem{'s' if count != 1 else ''}; nothing was imported."
        if count > len(shown):
            detail += f" The first {len(shown)} are listed."
        super().__init__(
            detail,
            errors=[e.as_dict() for e in shown],
            extra={"error_count": count, "truncated": count > len(shown)},
        )
        self.row_errors = ordered


@dataclass(frozen=True, slots=True)
class _Existing:
    id: int
    household_id: int
    person_id: int | None
    category: str
    effective_from: date
    effective_to: date | None


@dataclass
class _Plan:
    new_households: list[ImportRow] = field(default_factory=list)
    unchanged_households: int = 0
    new_persons: list[ImportRow] = field(default_factory=list)
    person_updates: list[tuple[int, int, ImportRow, str, str]] = field(default_factory=list)
    unchanged_persons: int = 0
    new_periods: list[tuple[PeriodKey, ImportRow]] = field(default_factory=list)
    closures: list[tuple[_Existing, ImportRow]] = field(default_factory=list)
    unchanged_periods: int = 0
    household_ids: dict[str, int] = field(default_factory=dict)
    person_ids: dict[str, int] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return bool(
            self.new_households
            or self.new_persons
            or self.person_updates
            or self.new_periods
            or self.closures
        )

    def result(self, *, dry_run: bool, rows: int, import_id: int | None = None) -> ImportResult:
        return ImportResult.model_validate(
            {
                "dry_run": dry_run,
                "changed": self.changes and not dry_run,
                "import_id": import_id,
                "rows": rows,
                "households": {
                    "created": len(self.new_households),
                    "unchanged": self.unchanged_households,
                },
                "persons": {
                    "created": len(self.new_persons),
                    "updated": len(self.person_updates),
                    "unchanged": self.unchanged_persons,
                },
                "periods": {
                    "created": len(self.new_periods),
                    "closed": len(self.closures),
                    "unchanged": self.unchanged_periods,
                },
            }
        )


async def import_csv(
    session: AsyncSession, data: bytes, *, actor: Actor, dry_run: bool = False
) -> ImportResult:
    """Validate ``data`` and (unless ``dry_run``) apply it; raises :class:`ImportRejected`."""
    parsed = parse_csv(data)
    if parsed.errors:
        raise ImportRejected(parsed.errors)
    if not dry_run:
        await serialize_writes(session)
    plan, errors = await _plan(session, parsed.rows)
    if errors:
        raise ImportRejected(errors)
    if dry_run or not plan.changes:
        return plan.result(dry_run=dry_run, rows=len(parsed.rows))
    digest = hashlib.sha256(data).hexdigest()
    import_id = await _apply(session, plan, actor, digest, len(parsed.rows))
    return plan.result(dry_run=False, rows=len(parsed.rows), import_id=import_id)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _among(session: AsyncSession, column: ColumnElement[Any], values: Sequence[Any]) -> Any:
    """``column IN values`` with the whole list as one parameter, however long it is: an array
    on PostgreSQL (``= ANY(:values)``), a JSON array read by ``json_each`` on SQLite."""
    if _dialect(session) == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    rows: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(json.dumps(list(values)))
    )
    return column.in_(rows.scalar_subquery())


async def _plan(session: AsyncSession, rows: list[ImportRow]) -> tuple[_Plan, list[RowError]]:
    """What the file adds to or changes in the registry, and every conflict with it."""
    plan = _Plan()
    household_rows, person_rows, period_rows = _first_rows(rows)
    registered_households = await _load_households(session, list(household_rows))
    errors = _plan_households(plan, household_rows, registered_households)
    registered_persons = await _load_persons(session, list(person_rows))
    errors += _plan_persons(plan, person_rows, registered_persons)
    code_of = {household_id: code for code, (household_id, _) in registered_households.items()}
    number_of = {person_id: number for number, person_id in plan.person_ids.items()}
    periods = await _load_periods(session, list(number_of), list(code_of))
    by_key, by_group = _index_periods(periods, number_of, code_of)
    closing, touched, period_errors = _plan_periods(plan, period_rows, by_key)
    errors += period_errors
    errors += _overlap_errors(plan, by_group, closing, touched)
    return plan, errors


def _first_rows(
    rows: list[ImportRow],
) -> tuple[dict[str, ImportRow], dict[str, ImportRow], dict[PeriodKey, ImportRow]]:
    """The first row of the file for each household, each person and each period."""
    household_rows: dict[str, ImportRow] = {}
    person_rows: dict[str, ImportRow] = {}
    period_rows: dict[PeriodKey, ImportRow] = {}
    for row in rows:
        household_rows.setdefault(row.household_code, row)
        person_rows.setdefault(row.id_number, row)
        key = period_key(row)
        if key is not None:
            period_rows.setdefault(key, row)  # the file has no conflicting repeats (csvfile)
    return household_rows, person_rows, period_rows


async def _load_households(session: AsyncSession, codes: list[str]) -> dict[str, tuple[int, str]]:
    """Household code → (id, region code) of the households already registered."""
    if not codes:
        return {}
    result = await session.execute(
        select(households.c.household_code, households.c.id, households.c.region_code).where(
            _among(session, households.c.household_code, codes)
        )
    )
    return {code: (household_id, region) for code, household_id, region in result}


def _plan_households(
    plan: _Plan, household_rows: dict[str, ImportRow], registered: dict[str, tuple[int, str]]
) -> list[RowError]:
    """New households into ``plan``; a registered household the file gives another region is
    a conflict."""
    errors: list[RowError] = []
    for code, row in household_rows.items():
        found = registered.get(code)
        if found is None:
            plan.new_households.append(row)
            continue
        plan.household_ids[code] = found[0]
        plan.unchanged_households += 1
        if found[1] != row.region_code:
            errors.append(
                RowError(
                    row.line,
                    "region_code",
                    f"household {code} is registered with region {found[1]}",
                )
            )
    return errors


async def _load_persons(session: AsyncSession, numbers: list[str]) -> dict[str, Any]:
    """ID number → (id, household_id, name, relation, household_code) of the persons already
    registered."""
    if not numbers:
        return {}
    result = await session.execute(
        select(
            persons.c.id_number,
            persons.c.id,
            persons.c.household_id,
            persons.c.name,
            persons.c.relation,
            households.c.household_code,
        )
        .join(households, households.c.id == persons.c.household_id)
        .where(_among(session, persons.c.id_number, numbers))
    )
    return {found.id_number: found for found in result}


def _plan_persons(
    plan: _Plan, person_rows: dict[str, ImportRow], registered: dict[str, Any]
) -> list[RowError]:
    """New persons and changed names or relations into ``plan``; a registered person the file
    lists in another household is a conflict."""
    errors: list[RowError] = []
    for number, row in person_rows.items():
        found = registered.get(number)
        if found is None:
            plan.new_persons.append(row)
            continue
        plan.person_ids[number] = found.id
        if found.household_code != row.household_code:
            errors.append(
                RowError(
                    row.line,
                    "household_code",
                    f"this person is registered in household {found.household_code}; "
                    "an import does not move a person to another household",
                )
            )
        elif (found.name, found.relation) != (row.name, row.relation):
            plan.person_updates.append(
                (found.id, found.household_id, row, found.name, found.relation)
            )
        else:
            plan.unchanged_persons += 1
    return errors


async def _load_periods(
    session: AsyncSession, person_ids: list[int], household_ids: list[int]
) -> list[_Existing]:
    """The registered periods of these persons and the household-level periods of these
    households."""
    columns = (
        status_periods.c.id,
        status_periods.c.household_id,
        status_periods.c.person_id,
        status_periods.c.category,
        status_periods.c.effective_from,
        status_periods.c.effective_to,
    )
    found: list[_Existing] = []
    if person_ids:
        result = await session.execute(
            select(*columns).where(_among(session, status_periods.c.person_id, person_ids))
        )
        found.extend(_Existing(**r._asdict()) for r in result)
    if household_ids:
        result = await session.execute(
            select(*columns).where(
                status_periods.c.person_id.is_(None),
                _among(session, status_periods.c.household_id, household_ids),
            )
        )
        found.extend(_Existing(**r._asdict()) for r in result)
    return found


def _index_periods(
    periods: list[_Existing], number_of: dict[int, str], code_of: dict[int, str]
) -> tuple[dict[PeriodKey, _Existing], dict[GroupKey, list[_Existing]]]:
    """Registered periods by the file's period key, and grouped by (subject, category)."""
    by_key: dict[PeriodKey, _Existing] = {}
    by_group: dict[GroupKey, list[_Existing]] = defaultdict(list)
    for period in periods:
        owner: SubjectKind
        if period.person_id is not None:
            owner, subject = "p", number_of[period.person_id]
        else:
            owner, subject = "h", code_of[period.household_id]
        by_key[(owner, subject, period.category, period.effective_from)] = period
        by_group[(owner, subject, period.category)].append(period)
    return by_key, by_group


def _plan_periods(
    plan: _Plan, period_rows: dict[PeriodKey, ImportRow], registered: dict[PeriodKey, _Existing]
) -> tuple[dict[int, date], set[GroupKey], list[RowError]]:
    """New periods and closures of open ones into ``plan``; a period the registry ended on
    another date is a conflict. Returns the closing dates by period id and the
    (subject, category) groups that changed, for the overlap check."""
    closing: dict[int, date] = {}
    touched: set[GroupKey] = set()
    errors: list[RowError] = []
    for key, row in period_rows.items():
        existing = registered.get(key)
        if existing is None:
            plan.new_periods.append((key, row))
            touched.add(key[:3])
        elif existing.effective_to == row.effective_to:
            plan.unchanged_periods += 1
        elif existing.effective_to is None:
            assert row.effective_to is not None
            plan.closures.append((existing, row))
            closing[existing.id] = row.effective_to
            touched.add(key[:3])
        else:
            errors.append(
                RowError(
                    row.line,
                    "effective_to",
                    f"the registry ended this {row.category} period on "
                    f"{existing.effective_to.isoformat()}; an import does not rewrite history",
                )
            )
    return closing, touched, errors


def _overlap_errors(
    plan: _Plan,
    registered: dict[GroupKey, list[_Existing]],
    closing: dict[int, date],
    touched: set[GroupKey],
) -> list[RowError]:
    """No two periods of one category may overlap for the same person or household: each
    changed group is checked with the registered periods (as closed by the file) and the new
    ones."""
    new_by_group: dict[GroupKey, list[ImportRow]] = defaultdict(list)
    for key, row in plan.new_periods:
        new_by_group[key[:3]].append(row)
    closing_lines = {existing.id: row.line for existing, row in plan.closures}
    errors: list[RowError] = []
    for group in touched:
        intervals = [
            Interval(p.effective_from, closing.get(p.id, p.effective_to), closing_lines.get(p.id))
            for p in registered.get(group, [])
        ]
        intervals.extend(
            Interval(r.effective_from, r.effective_to, r.line)
            for r in new_by_group.get(group, [])
            if r.effective_from is not None
        )
        errors.extend(overlaps(group[2], intervals))
    return errors


async def _apply(
    session: AsyncSession, plan: _Plan, actor: Actor, digest: str, row_count: int
) -> int:
    now = utcnow()
    summary = plan.result(dry_run=False, rows=row_count).model_dump(
        include={"households", "persons", "periods"}
    )
    import_id = (
        await session.execute(
            insert(imports).returning(imports.c.id),
            [
                {
                    "created_at": now,
                    "actor": actor.identity,
                    "request_id": actor.request_id,
                    "sha256": digest,
                    "rows": row_count,
                    "summary": summary,
                }
            ],
        )
    ).scalar_one()
    stamp = {"created_at": now, "created_by": actor.identity, "import_id": import_id}

    if plan.new_households:
        ids = await _allocate_ids(session, households, len(plan.new_households))
        await _bulk_insert(
            session,
            households,
            (
                {
                    "id": new_id,
                    "household_code": r.household_code,
                    "region_code": r.region_code,
                    **stamp,
                }
                for new_id, r in zip(ids, plan.new_households, strict=True)
            ),
        )
        plan.household_ids.update(
            (r.household_code, new_id) for new_id, r in zip(ids, plan.new_households, strict=True)
        )

    if plan.new_persons:
        ids = await _allocate_ids(session, persons, len(plan.new_persons))
        await _bulk_insert(
            session,
            persons,
            (
                {
                    "id": new_id,
                    "id_number": r.id_number,
                    "household_id": plan.household_ids[r.household_code],
                    "name": r.name,
                    "relation": r.relation,
                    **stamp,
                }
                for new_id, r in zip(ids, plan.new_persons, strict=True)
            ),
        )
        plan.person_ids.update(
            (r.id_number, new_id) for new_id, r in zip(ids, plan.new_persons, strict=True)
        )

    changes: list[Change] = [
        Change("import", "import", import_id, details={"sha256": digest, "rows": row_count})
    ]
    if plan.person_updates:
        await session.execute(
            update(persons)
            .where(persons.c.id == bindparam("b_id"))
            .values(name=bindparam("b_name"), relation=bindparam("b_relation"), updated_at=now),
            [
                {"b_id": person_id, "b_name": r.name, "b_relation": r.relation}
                for person_id, _, r, _, _ in plan.person_updates
            ],
        )
        changes.extend(
            Change(
                "person.update",
                "person",
                person_id,
                household_id=household_id,
                person_id=person_id,
                details={
                    "import_id": import_id,
                    "before": {"name": old_name, "relation": old_relation},
                    "after": {"name": r.name, "relation": r.relation},
                },
            )
            for person_id, household_id, r, old_name, old_relation in plan.person_updates
        )

    if plan.new_periods:
        await _bulk_insert(
            session,
            status_periods,
            (
                {
                    "household_id": plan.household_ids[row.household_code],
                    "person_id": plan.person_ids[row.id_number] if kind == "p" else None,
                    "category": category,
                    "effective_from": start,
                    "effective_to": row.effective_to,
                    "note": None,
                    **stamp,
                }
                for (kind, _, category, start), row in plan.new_periods
            ),
        )

    if plan.closures:
        await session.execute(
            update(status_periods)
            .where(status_periods.c.id == bindparam("b_id"))
            .values(
                effective_to=bindparam("b_to"),
                ended_at=now,
                ended_by=actor.identity,
                end_reason=IMPORT_END_REASON,
            ),
            [{"b_id": existing.id, "b_to": row.effective_to} for existing, row in plan.closures],
        )
        changes.extend(
            Change(
                "status.end",
                "status_period",
                existing.id,
                household_id=existing.household_id,
                person_id=existing.person_id,
                details={
                    "import_id": import_id,
                    "category": existing.category,
                    "effective_to": row.effective_to.isoformat() if row.effective_to else None,
                    "reason": IMPORT_END_REASON,
                },
            )
            for existing, row in plan.closures
        )

    await record(session, actor, changes)
    return int(import_id)


async def _allocate_ids(session: AsyncSession, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, so rows can be bulk-inserted without
    RETURNING. PostgreSQL draws them from the column's sequence; on SQLite the import holds
    the database's write lock (``serialize_writes``), so the keys after the largest are free."""
    if _dialect(session) == "postgresql":
        result = await session.execute(
            text(
                f"SELECT array(SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                "FROM generate_series(1, :count))"
            ),
            {"count": count},
        )
        return list(result.scalar_one())  # one array, not a row per key
    highest = (await session.execute(select(func.max(table.c.id)))).scalar_one()
    start = int(highest or 0) + 1
    return list(range(start, start + count))


BULK_CHUNK = 20_000
"""Rows per ``COPY`` (or executemany) of a bulk insert: the rows of a large import are never
all built at once."""


async def _bulk_insert(session: AsyncSession, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows, every row with the same keys, in chunks of ``BULK_CHUNK`` within the
    transaction: PostgreSQL's COPY; on SQLite one driver-level executemany per chunk, each
    distinct value converted once (a file's dates and the import's timestamp repeat on every
    row)."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    columns = list(first)
    records = (tuple(r[c] for c in columns) for r in chain((first,), iterator))
    connection = await session.connection()
    if _dialect(session) == "postgresql":
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        while chunk := list(islice(records, BULK_CHUNK)):
            await driver.copy_records_to_table(table.name, records=chunk, columns=columns)
        return
    dialect = connection.dialect
    converters = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    caches: list[dict[Any, Any]] = [{} for _ in columns]

    def convert(position: int, value: Any) -> Any:
        converter = converters[position]
        if converter is None or value is None:
            return value
        cache = caches[position]
        if value not in cache:
            cache[value] = converter(value)
        return cache[value]

    quote = dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    while chunk := list(islice(records, BULK_CHUNK)):
        await connection.exec_driver_sql(
            statement, [tuple(convert(i, v) for i, v in enumerate(r)) for r in chunk]
        )
