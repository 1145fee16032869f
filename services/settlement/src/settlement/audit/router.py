"""``GET /v1/audit/verify`` (admin token): the audit trail's chains and the bills checked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from settlement.audit.schemas import VerifyReport
from settlement.audit.verify import verify
from settlement.deps import AdminDep, ContextDep
from settlement.schemas import IsoDate
from shared.errors import Unprocessable, problem_responses

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/verify",
    response_model=VerifyReport,
    response_model_by_alias=True,
    summary="Recompute the audit chain and check the bills against their records",
    responses=problem_responses(401, 403, 422),
)
async def verify_audit(
    _admin: AdminDep,
    ctx: ContextDep,
    begin: Annotated[
        IsoDate | None, Query(alias="from", description="First local date (default: the first)")
    ] = None,
    end: Annotated[
        IsoDate | None, Query(alias="to", description="Last local date (default: the last)")
    ] = None,
) -> VerifyReport:
    """Every audit record carries `hash` = SHA-256 over the previous record's hash (one chain
    per person, and `system` for records that name nobody) and a canonical form of the record.
    This recomputes the chains of the records made from `from` to `to` (local dates, both
    included) and checks every bill and reversal booked on those dates against the record
    that booked it (amounts and fund rows). `ok` is true when everything holds; otherwise
    `first_break` names the earliest record where it does not (`kind`: `hash` — the record was
    changed, `link`/`sequence` — records were removed or reordered, `bill` — a bill's stored
    amounts differ from its record, `missing` — a bill has no record, `orphan` — a record's
    bill is gone)."""
    if begin is not None and end is not None and end < begin:
        raise Unprocessable.field("query.to", "must not be before from")
    return await verify(ctx.db, begin, end, ctx.settings.local_tz)
