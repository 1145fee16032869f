"""``/v1/imports``: the poverty office's bulk upload (CSV)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.requests import ClientDisconnect

from registry.deps import ActorDep, SessionDep
from registry.imports import service
from registry.imports.csvfile import HEADER_LINE
from registry.imports.schemas import ImportResult
from registry.responses import problems
from shared.csvfiles import require_csv
from shared.errors import PROBLEM_RESPONSES, BadRequest

router = APIRouter(prefix="/v1/imports", tags=["imports"])
log = logging.getLogger("medaid.registry.imports")

_EXAMPLE = (
    HEADER_LINE + "\n"
    "H370305001,370305,370305199001011236,张三,户主,registered_poor,2019-01-01,\n"
    "H370305001,370305,370305201203040013,张小明,子女,,,\n"
)
_IMPORT_422 = {
    **PROBLEM_RESPONSES[422],
    "description": "The file has problems; `errors` lists each as {row, column, message} "
    "(row = line number, header = 1) and nothing was written",
}
_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}, "example": _EXAMPLE}},
    }
}


@router.post(
    "",
    response_model=ImportResult,
    summary="Import the poverty office's CSV file (admin)",
    description=(
        "Body: `text/csv`, UTF-8 (a BOM is accepted), one row per person and status, header "
        f"exactly `{HEADER_LINE}`. `category` is empty for a member without status; an "
        "empty `effective_to` is open. All or nothing: any problem → 422 listing every one, "
        "nothing written. Importing the same file again changes nothing (`changed: false`). "
        "A period open in the registry whose `effective_to` the file fills in is ended on "
        "that date; anything that would move a person to another household, change a "
        "household's region, reopen or re-date an ended period, or overlap a period of the "
        "same category → 422."
    ),
    responses={
        **problems(400, 401, 403, 413, 415),
        422: _IMPORT_422,
    },
    openapi_extra=_OPENAPI,
)
async def import_file(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    dry_run: Annotated[bool, Query(description="Validate only; write nothing")] = False,
) -> ImportResult:
    try:
        data = await request.body()  # an oversized body is refused (413) whatever its type
    except ClientDisconnect:
        # The client went away, or the body-size limit answered 413 and cut the body off.
        raise BadRequest("The request body was not received completely.") from None
    require_csv(request.headers.get("content-type"))
    result = await service.import_csv(session, data, actor=actor, dry_run=dry_run)
    log.info(
        "import %s",
        "validated" if dry_run else ("applied" if result.changed else "unchanged"),
        extra={
            "medaid": {
                "actor": actor.identity,
                "import_id": result.import_id,
                "rows": result.rows,
                "persons_created": result.persons.created,
                "periods_created": result.periods.created,
                "periods_closed": result.periods.closed,
            }
        },
    )
    return result
