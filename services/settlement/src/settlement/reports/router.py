"""The fund report (admin token)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from settlement.deps import AdminDep, ContextDep
from settlement.reports import service
from settlement.reports.schemas import FundReport, GroupBy
from settlement.schemas import IsoDate
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/reports", tags=["reports"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def wants_csv(accept: str | None) -> bool:
    """``Accept: text/csv`` (alone or preferred to JSON)."""
    if not accept:
        return False
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "text/csv" in kinds and (
        "application/json" not in kinds or kinds.index("text/csv") < kinds.index("application/json")
    )


@router.get(
    "/funds",
    response_model=FundReport,
    summary="What each fund paid, per hospital, fund, aid class, region or day",
    responses={
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "\ufeffhospital,name,bill_count,medfee_sumamt,...\r\n",
                }
            },
            "description": "The report; CSV (UTF-8 with BOM) with `Accept: text/csv`",
        },
        **problem_responses(401, 403, 422),
    },
)
async def funds_report(
    _admin: AdminDep,
    ctx: ContextDep,
    begin: Annotated[IsoDate, Query(alias="from", description="First settlement date")],
    end: Annotated[IsoDate, Query(alias="to", description="Last settlement date (included)")],
    group_by: Annotated[GroupBy, Query(description="How to group the bills")],
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Amounts and record counts per group over settlement dates `from`..`to` (local, both
    included, at most 1096 days). A period's records are its books: every bill settled in it
    (revoked later or not) and the reversal of every revoke made in it (negative amounts,
    `refd_setl_flag` 1), so a day's figures never change after the day. `bill_count` counts
    both, `reversal_count` the reversals; amounts are net. Grouped by hospital, aid class,
    region or day: the sums of `medfee_sumamt`, `hifp_pay`, `hifmi_pay`, `maf_pay`, `oth_pay`,
    `fund_pay_sumamt`, `psn_cash_pay`; by fund: the sum of `fund_payamt` per fund code
    (`setldetail`). `total` sums every record of the period (exact to the fen). JSON, or CSV
    with `Accept: text/csv` (UTF-8 with a byte-order mark, the total as the last row,
    `reversal_count` as the last column)."""
    start: date = begin
    report = await service.fund_report(ctx.db, start, end, group_by)
    if wants_csv(accept):
        filename = f"funds-{group_by}-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(
            service.report_csv(report).encode("utf-8"),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(report.model_dump_json(by_alias=True), media_type="application/json")
