"""Supervision endpoints (admin token): flags, their review, the rules, the monthly view."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from settlement.deps import AdminDep, RequestIdDep, SupervisionDep
from settlement.reports.router import CSV_MEDIA_TYPE, wants_csv
from settlement.schemas import IsoDate
from settlement.supervision.schemas import (
    FlagOut,
    FlagPage,
    FlagStatus,
    MonthlyView,
    ReviewIn,
    RulesOut,
)
from settlement.supervision.service import parse_month
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/supervision", tags=["supervision"])

_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "\ufeffid,setl_date,hospital_code,hospital_name,setl_id,...\r\n",
            }
        },
        "description": "The flags; CSV (UTF-8 with BOM) with `Accept: text/csv`",
    }
}


@router.get(
    "/flags",
    response_model=FlagPage,
    summary="Flags the supervision rules recorded on bills",
    responses={**_CSV_RESPONSE, **problem_responses(401, 403, 422)},
)
async def list_flags(
    _admin: AdminDep,
    supervision: SupervisionDep,
    begin: Annotated[IsoDate, Query(alias="from", description="First settlement date")],
    end: Annotated[IsoDate, Query(alias="to", description="Last settlement date (included)")],
    rule: Annotated[str | None, Query(max_length=32, description="A rule's code")] = None,
    hospital_code: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[FlagStatus | None, Query()] = None,
    after: Annotated[
        int | None, Query(ge=0, description="`next_after` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The flags of the bills settled from `from` to `to` (local dates, both included, at
    most 366 days), oldest first, optionally of one `rule`, one hospital or one `status`
    (`open`, `reviewed-ok`, `reviewed-recover`). Each names its bill, hospital and masked
    patient, the hospital's sentence (`message`) and the facts behind it (`detail`). JSON
    pages (`limit`, `after`), or with `Accept: text/csv` every flag of the period as CSV
    (UTF-8 with a byte-order mark, for spreadsheets)."""
    start: date = begin
    if wants_csv(accept):
        text = await supervision.flags_csv(
            start, end, rule=rule, hospital_code=hospital_code, status=status
        )
        filename = f"flags-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(
            text.encode("utf-8"),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    page = await supervision.list_flags(
        start, end, rule=rule, hospital_code=hospital_code, status=status, after=after, limit=limit
    )
    return Response(page.model_dump_json(), media_type="application/json")


@router.post(
    "/flags/{flag_id}/review",
    response_model=FlagOut,
    summary="Review a flag: reviewed-ok or reviewed-recover",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def review_flag(
    flag_id: Annotated[int, Path(ge=1, le=2**62)],
    body: ReviewIn,
    admin: AdminDep,
    supervision: SupervisionDep,
    request_id: RequestIdDep,
) -> FlagOut:
    """Close an open flag: `reviewed-ok` (核实无误: the bill stands) or `reviewed-recover`
    (追回: the money is to be recovered), with the `reviewer`'s name and a `note`. Recorded in
    the audit trail. A flag is reviewed once: reviewing it again is a 409."""
    return await supervision.review(flag_id, body, actor=admin.actor, request_id=request_id)


@router.get(
    "/rules",
    response_model=RulesOut,
    summary="The supervision rules in force",
    responses=problem_responses(401, 403),
)
async def list_rules(_admin: AdminDep, supervision: SupervisionDep) -> RulesOut:
    """The rules file read at start-up: each rule's code, kind, title, severity, action and
    parameters, and when the outlier rules' medians were last refreshed."""
    return supervision.rules_out()


@router.get(
    "/monthly",
    response_model=MonthlyView,
    response_model_by_alias=True,
    summary="The monthly view: shares rising month on month, per hospital",
    responses=problem_responses(401, 403, 422),
)
async def monthly_view(
    _admin: AdminDep,
    supervision: SupervisionDep,
    begin: Annotated[str, Query(alias="from", description="First month, YYYY-MM")],
    end: Annotated[str, Query(alias="to", description="Last month, YYYY-MM")],
) -> MonthlyView:
    """For each monthly rule and hospital, each month of `from`..`to` (at most 24): the
    share of key-group patients among its patients, or of bills whose in-scope amount lies
    just below the deductible among its bills; the previous month's share; the rise; and
    `flagged` when both months have the rule's `min_bills` and the rise exceeds its
    `max_rise`. `flagged` lists those rows."""
    return await supervision.monthly(parse_month(begin, "query.from"), parse_month(end, "query.to"))
