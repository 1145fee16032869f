"""Adding and ending status periods one at a time (the office's single edits).

History is never deleted or rewritten: a period is added once; ending it records the last
day, the reason, who and when, and the change log keeps a row for each write.

Repeats are safe: adding a period identical to a recorded one (same person or household,
category, ``effective_from`` and ``effective_to``) returns the recorded one (200, nothing
written); ending a period again on the same date returns it unchanged. A period that would
overlap another of the same category for the same person or household → 409; so does ending
a period that already ended on another date.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth import Actor
from registry.categories import level_of
from registry.changelog.service import Change, record
from registry.database import serialize_writes, utcnow
from registry.models import status_periods
from registry.persons.service import require_person
from registry.statuses import repository
from registry.statuses.schemas import StatusCreate, StatusEnd, StatusPublic
from shared.errors import Conflict, NotFound, Unprocessable


def _span(start: date, end: date | None) -> str:
    return f"{start.isoformat()} to {end.isoformat() if end else 'open'}"


async def add_status(
    session: AsyncSession, id_number: str, body: StatusCreate, actor: Actor
) -> tuple[StatusPublic, bool]:
    """The new period and True, or the identical recorded period and False."""
    await serialize_writes(session)
    person = await require_person(session, id_number)
    household_level = level_of(body.category) == "household"
    subject = (
        status_periods.c.person_id.is_(None)
        if household_level
        else status_periods.c.person_id == person.id
    )
    same_category = await session.execute(
        select(
            status_periods.c.id, status_periods.c.effective_from, status_periods.c.effective_to
        ).where(
            status_periods.c.household_id == person.household_id,
            subject,
            status_periods.c.category == body.category,
        )
    )
    for period_id, start, end in same_category:
        if start == body.effective_from and end == body.effective_to:
            return StatusPublic.from_row(await repository.period_row(session, period_id)), False
        if start <= (body.effective_to or date.max) and body.effective_from <= (end or date.max):
            whose = "the household" if household_level else "this person"
            raise Conflict(
                f"{whose} already has a {body.category} period {_span(start, end)} "
                f"(status {period_id}) overlapping {_span(body.effective_from, body.effective_to)}",
                extra={"conflicting_status_id": period_id},
            )
    now = utcnow()
    new_id = (
        await session.execute(
            insert(status_periods)
            .values(
                household_id=person.household_id,
                person_id=None if household_level else person.id,
                category=body.category,
                effective_from=body.effective_from,
                effective_to=body.effective_to,
                note=body.note or None,
                created_at=now,
                created_by=actor.identity,
            )
            .returning(status_periods.c.id)
        )
    ).scalar_one()
    await record(
        session,
        actor,
        [
            Change(
                "status.add",
                "status_period",
                new_id,
                household_id=person.household_id,
                person_id=person.id,
                details={
                    "category": body.category,
                    "level": "household" if household_level else "person",
                    "effective_from": body.effective_from.isoformat(),
                    "effective_to": body.effective_to.isoformat() if body.effective_to else None,
                    "note": body.note or None,
                },
            )
        ],
    )
    return StatusPublic.from_row(await repository.period_row(session, new_id)), True


async def end_status(
    session: AsyncSession, status_id: int, body: StatusEnd, actor: Actor
) -> StatusPublic:
    await serialize_writes(session)
    row = await repository.period_row(session, status_id)
    if row is None:
        raise NotFound(f"No status period {status_id}.")
    if body.effective_to < row.effective_from:
        raise Unprocessable.field(
            "effective_to",
            f"must not be before the period's effective_from ({row.effective_from.isoformat()})",
        )
    if row.effective_to is not None:
        if row.effective_to == body.effective_to:
            return StatusPublic.from_row(row)
        raise Conflict(
            f"Status {status_id} already ends on {row.effective_to.isoformat()}; "
            "history is not rewritten."
        )
    now = utcnow()
    await session.execute(
        update(status_periods)
        .where(status_periods.c.id == status_id)
        .values(
            effective_to=body.effective_to,
            ended_at=now,
            ended_by=actor.identity,
            end_reason=body.reason,
        )
    )
    await record(
        session,
        actor,
        [
            Change(
                "status.end",
                "status_period",
                status_id,
                household_id=row.household_id,
                person_id=row.person_id,
                details={
                    "category": row.category,
                    "effective_to": body.effective_to.isoformat(),
                    "reason": body.reason,
                },
            )
        ],
    )
    return StatusPublic.from_row(await repository.period_row(session, status_id))
