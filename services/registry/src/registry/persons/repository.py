"""Queries on persons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, or_, select
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


async def person_with_categories(
    session: AsyncSession, id_number: str, on: date
) -> tuple[PersonRow, list[str]] | None:
    """The person and the categories active on ``on`` (their own and their household's,
    sorted, each once), in one query; None when the person is not registered."""
    active = and_(
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
    result = await session.execute(
        select(*_COLUMNS, status_periods.c.category)
        .join(households, households.c.id == persons.c.household_id)
        .outerjoin(status_periods, active)
        .where(persons.c.id_number == id_number)
    )
    rows = result.all()
    if not rows:
        return None
    person = PersonRow(*rows[0][: len(_COLUMNS)])
    return person, sorted({row[-1] for row in rows if row[-1] is not None})
