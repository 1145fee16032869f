"""``GET /v1/settlements/{setl_id}/receipt``: the printable receipt of a hospital's bill."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from settlement.deps import ContextDep, HospitalDep, SettlementsDep
from settlement.receipts.service import render_receipt
from settlement.settlements.router import SetlId
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/settlements", tags=["settlements"])


@router.get(
    "/{setl_id}/receipt",
    response_class=HTMLResponse,
    summary="Printable one-stop settlement receipt (HTML, A4)",
    responses={
        **problem_responses(401, 403, 404),
        200: {"content": {"text/html": {}}, "description": "The receipt"},
    },
)
async def settlement_receipt(
    setl_id: SetlId, hospital: HospitalDep, settlements: SettlementsDep, ctx: ContextDep
) -> HTMLResponse:
    """一站式结算单: hospital, masked patient, aid class, costs by scope, each fund's payment
    and how it came out, what the patient pays. Self-contained (no external URL)."""
    stored = await settlements.stored(hospital, setl_id)
    return HTMLResponse(render_receipt(stored, ctx.settings.local_tz))
