"""Queries on persons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, String, and_, bindparam, or_, select
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


def _active_on(on: Any) -> ColumnElement[bool]:
    """The eligibility rule: a period applies to a person when it is their own or a
    household-level one of their household (``person_id`` empty), and it is active on ``on``
    (``effective_from <= on <= effective_to``, an empty ``effective_to`` being open)."""
    return and_(
        or_(
            status_periods.c.person_id == persons.c.id,
            and_(
                status_periods.c.household_id == persons.c.household_id,
                status_periods.c.person_id.is_(None),
            ),
        ),
        status_periods.c.effective_from <= on,
        or_(status_periods.c.effective_to.is_(None), status_periods.c.effective_to >= on),
    )


ELIGIBILITY: Select[tuple[str, str, str, str, str | None]] = (
    select(
        persons.c.id_number,
        persons.c.name,
        households.c.household_code,
        households.c.region_code,
        status_periods.c.category,
    )
    .join(households, households.c.id == persons.c.household_id)
    .outerjoin(status_periods, _active_on(bindparam("on", type_=Date)))
    .where(persons.c.id_number == bindparam("id_number", type_=String))
)
"""The person and one row per period active on ``:on`` (one row with an empty category when
none is), in one statement served by indexes: ``uq_persons_id_number``, ``pk_households`` and
the two partial unique indexes of ``status_periods`` (person / household, leading column the
owner's id). Bind parameters: ``id_number``, ``on``. Every backend runs this statement:
SQLite through SQLAlchemy, PostgreSQL compiled once for asyncpg
(:mod:`registry.persons.eligibility`)."""


@dataclass(frozen=True, slots=True)
class EligibilityRow:
    id_number: str
    name: str
    household_code: str
    region_code: str
    categories: list[str]
    """Active on the date, sorted, each once."""


def eligibility_row(rows: Sequence[Sequence[Any]]) -> EligibilityRow | None:
    """Fold the rows of :data:`ELIGIBILITY` into the person and their categories; None when
    the person is not registered (no row)."""
    if not rows:
        return None
    first = rows[0]
    found = {row[4] for row in rows if row[4] is not None}
    categories = sorted(found) if len(found) > 1 else list(found)
    return EligibilityRow(first[0], first[1], first[2], first[3], categories)
