"""``GET /v1/persons/{id_number}/accumulators?year=`` (like the national 5206)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from settlement.deps import PersonsDep, PrincipalDep, RequestIdDep
from settlement.persons.schemas import AccumulatorsOut
from shared.errors import problem_responses
from shared.idnumber import IdNumber

router = APIRouter(prefix="/v1/persons", tags=["accumulators"])


@router.get(
    "/{id_number}/accumulators",
    response_model=AccumulatorsOut,
    summary="A person's running totals and what each fund can still pay",
    responses=problem_responses(401, 403, 422, 503),
)
async def person_accumulators(
    id_number: Annotated[IdNumber, Path(description="18-character resident ID number")],
    principal: PrincipalDep,
    persons: PersonsDep,
    request_id: RequestIdDep,
    year: Annotated[int | None, Query(ge=1990, le=2999, description="Default: this year")] = None,
) -> AccumulatorsOut:
    """For the admin, or a hospital that has billed this person. The aid class (and so the
    limits) is the registry's for today, or for 31 December of a past year."""
    return await persons.accumulators(
        id_number, year=year, hospital=principal.hospital, request_id=request_id
    )
