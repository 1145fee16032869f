"""``/v1/households``: a household's members and status history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from registry.deps import ReaderDep, SessionDep
from registry.fields import HOUSEHOLD_CODE_PATTERN
from registry.households import service
from registry.households.schemas import HouseholdPublic
from registry.responses import problems

router = APIRouter(prefix="/v1/households", tags=["households"])


@router.get(
    "/{household_code}",
    response_model=HouseholdPublic,
    summary="A household with its members and full status history",
    responses=problems(401, 404, 422),
)
async def get_household(
    household_code: Annotated[str, Path(pattern=HOUSEHOLD_CODE_PATTERN)],
    _caller: ReaderDep,
    session: SessionDep,
) -> HouseholdPublic:
    return await service.household_detail(session, household_code)
