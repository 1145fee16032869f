"""``/v1/statuses``: ending a status period (exit: 脱贫, 销号, …)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path

from registry.deps import ActorDep, SessionDep
from registry.responses import problems
from registry.statuses import service
from registry.statuses.schemas import StatusEnd, StatusPublic

router = APIRouter(prefix="/v1/statuses", tags=["statuses"])
log = logging.getLogger("medaid.registry.statuses")


@router.post(
    "/{status_id}/end",
    response_model=StatusPublic,
    summary="End a status period (admin)",
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
async def end_status(
    status_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The period's id")],
    body: StatusEnd,
    actor: ActorDep,
    session: SessionDep,
) -> StatusPublic:
    """Records the period's last day (inclusive) and the reason; nothing is deleted. Ending
    it again on the same date returns it unchanged; on another date → 409."""
    period = await service.end_status(session, status_id, body, actor)
    log.info(
        "status ended",
        extra={
            "medaid": {
                "status_id": status_id,
                "effective_to": str(period.effective_to),
                "actor": actor.identity,
            }
        },
    )
    return period
