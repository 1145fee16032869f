"""``/v1/persons``: eligibility on a date, the person's record, adding a status period."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from registry.config import Settings
from registry.deps import ActorDep, ReaderDep, SessionDep
from registry.fields import IsoDate
from registry.persons import service
from registry.persons.eligibility import EligibilityLookup
from registry.persons.schemas import Eligibility, PersonPublic
from registry.responses import problems
from registry.statuses import service as statuses
from registry.statuses.schemas import StatusCreate, StatusPublic
from shared.idnumber import IdNumber

router = APIRouter(prefix="/v1/persons", tags=["persons"])
log = logging.getLogger("medaid.registry.statuses")

IdNumberPath = Annotated[
    IdNumber,
    Path(
        description="18-character resident ID number (GB 11643, MOD 11-2 check character)",
        examples=["370305199001011236"],
    ),
]


@router.get(
    "/{id_number}/eligibility",
    response_model=Eligibility,
    summary="Categories a person holds on a date",
    responses=problems(401, 404, 422),
)
async def get_eligibility(
    request: Request,
    id_number: IdNumberPath,
    _caller: ReaderDep,
    on: Annotated[
        IsoDate | None,
        Query(description="The date (YYYY-MM-DD); default: today in the registry's time zone"),
    ] = None,
) -> Response:
    """The person's own categories and their household's that are active on ``on``
    (``effective_from <= on <= effective_to``, an empty ``effective_to`` being open).
    ``valid_from`` / ``valid_to`` (inclusive, null = unbounded) give the span around ``on``
    over which the same answer holds, so a client may reuse it for any date inside."""
    # The hot read: the lookup and the settings come from the app's state rather than from
    # dependencies, and the JSON is built without a response model (one is declared above
    # for the API document).
    state = request.app.state
    lookup: EligibilityLookup = state.eligibility
    settings: Settings = state.settings
    body = await service.eligibility(lookup, id_number, on or settings.today())
    return Response(body, media_type="application/json")


@router.get(
    "/{id_number}",
    response_model=PersonPublic,
    summary="A person with their full status history",
    responses=problems(401, 404, 422),
)
async def get_person(
    id_number: IdNumberPath, _caller: ReaderDep, session: SessionDep
) -> PersonPublic:
    return await service.person_detail(session, id_number)


@router.post(
    "/{id_number}/statuses",
    response_model=StatusPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Add a status period (admin)",
    responses={
        200: {"description": "An identical period was already recorded; nothing was written"},
        **problems(400, 401, 403, 404, 409, 413, 422),
    },
)
async def add_status(
    id_number: IdNumberPath,
    body: StatusCreate,
    actor: ActorDep,
    session: SessionDep,
    response: Response,
) -> StatusPublic:
    """Records a new period (201). A household-level category is recorded on the person's
    household and applies to every member. The same period again → 200 with the recorded
    one; a period overlapping another of the same category → 409."""
    period, created = await statuses.add_status(session, id_number, body, actor)
    if created:
        log.info(
            "status added",
            extra={
                "medaid": {
                    "status_id": period.id,
                    "category": period.category,
                    "level": period.level,
                    "actor": actor.identity,
                }
            },
        )
    else:
        response.status_code = status.HTTP_200_OK
    return period
