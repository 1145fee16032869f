"""Reading persons: eligibility on a date and the full record."""

from __future__ import annotations

import json
from datetime import date
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from registry.persons.eligibility import EligibilityLookup
from registry.persons.repository import PersonRow, get_person
from registry.persons.schemas import PersonPublic
from registry.statuses.repository import period_rows
from registry.statuses.schemas import StatusPublic
from shared.errors import NotFound
from shared.idnumber import mask_id_number

_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


async def require_person(session: AsyncSession, id_number: str) -> PersonRow:
    person = await get_person(session, id_number)
    if person is None:
        raise NotFound(f"No person with ID number {mask_id_number(id_number)} in the registry.")
    return person


async def eligibility(lookup: EligibilityLookup, id_number: str, on: date) -> bytes:
    """The ``Eligibility`` document (``persons.schemas``) as JSON, built directly from the
    row: the same fields in the same order, without a model in between."""
    found = await lookup.find(id_number, on)
    if found is None:
        raise NotFound(f"No person with ID number {mask_id_number(id_number)} in the registry.")
    return _dumps(
        {
            "id_number_masked": mask_id_number(found.id_number),
            "name": found.name,
            "household_code": found.household_code,
            "region_code": found.region_code,
            "categories": found.categories,
            "registered": True,
            "on": on.isoformat(),
            "valid_from": found.valid_from.isoformat() if found.valid_from else None,
            "valid_to": found.valid_to.isoformat() if found.valid_to else None,
        }
    ).encode()


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
