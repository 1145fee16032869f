"""Queries on persons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    bindparam,
    case,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import households, persons, status_periods


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    id_number: str
    name: str
    relation: str
    household_id: int
    household_code: str
    region_code: str


_COLUMNS = (
    persons.c.id,
    persons.c.id_number,
    persons.c.name,
    persons.c.relation,
    persons.c.household_id,
    households.c.household_code,
    households.c.region_code,
)


async def get_person(session: AsyncSession, id_number: str) -> PersonRow | None:
    result = await session.execute(
        select(*_COLUMNS)
        .join(households, households.c.id == persons.c.household_id)
        .where(persons.c.id_number == id_number)
    )
    row = result.first()
    return PersonRow(*row) if row else None


async def members_of(session: AsyncSession, household_id: int) -> list[PersonRow]:
    result = await session.execute(
        select(*_COLUMNS)
        .join(households, households.c.id == persons.c.household_id)
        .where(persons.c.household_id == household_id)
        .order_by(persons.c.id)
    )
    return [PersonRow(*row) for row in result]


def _applies_to_person() -> ColumnElement[bool]:
    """A period applies to a person when it is their own or a household-level one of their
    household (``person_id`` empty)."""
    return or_(
        status_periods.c.person_id == persons.c.id,
        and_(
            status_periods.c.household_id == persons.c.household_id,
            status_periods.c.person_id.is_(None),
        ),
    )


def _active_on(on: Any) -> ColumnElement[bool]:
    """The eligibility rule's dates: a period is active on ``on`` when
    ``effective_from <= on <= effective_to``, an empty ``effective_to`` being open."""
    return and_(
        status_periods.c.effective_from <= on,
        or_(status_periods.c.effective_to.is_(None), status_periods.c.effective_to >= on),
    )


ELIGIBILITY: Select[tuple[str, str, str, str, str | None, date | None, date | None]] = (
    select(
        persons.c.id_number,
        persons.c.name,
        households.c.household_code,
        households.c.region_code,
        case((_active_on(bindparam("on", type_=Date)), status_periods.c.category)),
        status_periods.c.effective_from,
        status_periods.c.effective_to,
    )
    .join(households, households.c.id == persons.c.household_id)
    .outerjoin(status_periods, _applies_to_person())
    .where(persons.c.id_number == bindparam("id_number", type_=String))
)
"""The person and one row per period that applies to them (one row with empty period columns
when none does): its category when active on ``:on`` (else empty), its first and last day (the
span of the answer is folded from these, :func:`eligibility_row`). One statement served by
indexes: ``uq_persons_id_number``, ``pk_households`` and the two partial unique indexes of
``status_periods`` (person / household, leading column the owner's id). Bind parameters:
``id_number``, ``on``. Every backend runs this statement: SQLite through SQLAlchemy,
PostgreSQL compiled once for asyncpg (:mod:`registry.persons.eligibility`)."""

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class EligibilityRow:
    id_number: str
    name: str
    household_code: str
    region_code: str
    categories: list[str]
    """Active on the date, sorted, each once."""
    valid_from: date | None
    """First day of the span around the date over which the same answer holds; None when no
    period boundary lies on or before the date (the same answer on every earlier date)."""
    valid_to: date | None
    """Last day of that span; None when no boundary lies after the date (open-ended)."""


def eligibility_row(rows: Sequence[Sequence[Any]], on: date) -> EligibilityRow | None:
    """Fold the rows of :data:`ELIGIBILITY` for ``on`` into the person, their categories and
    the span of the answer; None when the person is not registered (no row).

    The answer can only change where a period starts or ends, so the span runs from the last
    boundary on or before ``on`` to the day before the first boundary after it, the
    boundaries being each period's ``effective_from`` and the day after its ``effective_to``.
    """
    if not rows:
        return None
    first = rows[0]
    found: set[str] = set()
    valid_from: date | None = None
    valid_to: date | None = None
    for row in rows:
        start: date | None = row[5]
        if start is None:  # the person without any period
            continue
        if row[4] is not None:
            found.add(row[4])
        if start <= on:
            if valid_from is None or start > valid_from:
                valid_from = start
        elif valid_to is None or start - _ONE_DAY < valid_to:
            valid_to = start - _ONE_DAY
        end: date | None = row[6]
        if end is None:
            continue
        if end < on:  # the day after the end is a boundary on or before ``on``
            if valid_from is None or end + _ONE_DAY > valid_from:
                valid_from = end + _ONE_DAY
        elif valid_to is None or end < valid_to:
            valid_to = end
    categories = sorted(found) if len(found) > 1 else list(found)
    return EligibilityRow(first[0], first[1], first[2], first[3], categories, valid_from, valid_to)
