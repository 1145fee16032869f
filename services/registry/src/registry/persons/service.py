"""Reading persons: eligibility on a date and the full record."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from registry.persons.repository import PersonRow, get_person, person_with_categories
from registry.persons.schemas import Eligibility, PersonPublic
from registry.statuses.repository import period_rows
from registry.statuses.schemas import StatusPublic
from shared.errors import NotFound
from shared.idnumber import mask_id_number


async def require_person(session: AsyncSession, id_number: str) -> PersonRow:
    person = await get_person(session, id_number)
    if person is None:
        raise NotFound(f"No person with ID number {mask_id_number(id_number)} in the registry.")
    return person


async def eligibility(session: AsyncSession, id_number: str, on: date) -> Eligibility:
    found = await person_with_categories(session, id_number, on)
    if found is None:
        raise NotFound(f"No person with ID number {mask_id_number(id_number)} in the registry.")
    person, categories = found
    return Eligibility.model_validate(
        {
            "id_number_masked": mask_id_number(person.id_number),
            "name": person.name,
            "household_code": person.household_code,
            "region_code": person.region_code,
            "categories": categories,
            "registered": True,
            "on": on,
        }
    )


async def person_detail(session: AsyncSession, id_number: str) -> PersonPublic:
    person = await require_person(session, id_number)
    rows = await period_rows(session, person_id=person.id, household_id=person.household_id)
    return PersonPublic(
        id_number_masked=mask_id_number(person.id_number),
        name=person.name,
        relation=person.relation,
        household_code=person.household_code,
        region_code=person.region_code,
        statuses=[StatusPublic.from_row(row) for row in rows],
    )
