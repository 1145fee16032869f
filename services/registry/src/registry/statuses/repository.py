"""Queries on status periods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import households, persons, status_periods

PERIOD_COLUMNS = (
    *status_periods.c,
    households.c.household_code,
    persons.c.id_number,
)


def _periods() -> Select[Any]:
    return (
        select(*PERIOD_COLUMNS)
        .join(households, households.c.id == status_periods.c.household_id)
        .outerjoin(persons, persons.c.id == status_periods.c.person_id)
        .order_by(status_periods.c.effective_from, status_periods.c.category, status_periods.c.id)
    )


def _applying_to(person_id: int, household_id: int) -> Any:
    """Periods of the person, and household-level periods of their household."""
    return or_(
        status_periods.c.person_id == person_id,
        and_(status_periods.c.household_id == household_id, status_periods.c.person_id.is_(None)),
    )


async def period_rows(
    session: AsyncSession,
    *,
    person_id: int | None = None,
    household_id: int | None = None,
    own_only: bool = False,
) -> Sequence[Any]:
    """Periods with their household code and person's ID number.

    ``person_id`` + ``household_id``: what applies to the person (own and household-level);
    ``household_id`` alone: every period recorded in the household (own_only=False) or only
    the household-level ones (own_only=True)."""
    query = _periods()
    if person_id is not None and household_id is not None:
        query = query.where(_applying_to(person_id, household_id))
    elif household_id is not None:
        query = query.where(status_periods.c.household_id == household_id)
        if own_only:
            query = query.where(status_periods.c.person_id.is_(None))
    else:
        raise ValueError("person_id or household_id is required")
    rows: Sequence[Any] = (await session.execute(query)).all()
    return rows


async def period_row(session: AsyncSession, status_id: int) -> Any:
    return (await session.execute(_periods().where(status_periods.c.id == status_id))).first()
