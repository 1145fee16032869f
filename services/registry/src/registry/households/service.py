"""Reading a household: its members and every status period recorded in it."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.households.schemas import HouseholdPublic, MemberPublic
from registry.models import households
from registry.persons.repository import members_of
from registry.statuses.repository import period_rows
from registry.statuses.schemas import StatusPublic
from shared.errors import NotFound
from shared.idnumber import mask_id_number


async def household_detail(session: AsyncSession, household_code: str) -> HouseholdPublic:
    found = (
        await session.execute(
            select(households.c.id, households.c.region_code).where(
                households.c.household_code == household_code
            )
        )
    ).first()
    if found is None:
        raise NotFound(f"No household {household_code} in the registry.")
    household_id, region_code = found
    own: dict[int, list[StatusPublic]] = defaultdict(list)
    shared_periods: list[StatusPublic] = []
    for row in await period_rows(session, household_id=household_id):
        if row.person_id is None:
            shared_periods.append(StatusPublic.from_row(row))
        else:
            own[row.person_id].append(StatusPublic.from_row(row))
    members = await members_of(session, household_id)
    return HouseholdPublic(
        household_code=household_code,
        region_code=region_code,
        statuses=shared_periods,
        members=[
            MemberPublic(
                id_number_masked=mask_id_number(m.id_number),
                name=m.name,
                relation=m.relation,
                statuses=own.get(m.id, []),
            )
            for m in members
        ],
    )
