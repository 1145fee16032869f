"""The printable receipt of a bill: ``GET /v1/settlements/{setl_id}/receipt`` for the hospital
(Bearer key), and ``GET /v1/receipts/{setl_id}?token=`` for a browser holding the bill's
``receipt_url`` (no Bearer header)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from settlement.deps import ContextDep, HospitalDep, SettlementsDep
from settlement.receipts.service import render_link_refused, render_receipt
from settlement.settlements.router import SetlId
from shared.errors import Forbidden, NotFound, problem_responses

router = APIRouter(prefix="/v1/settlements", tags=["settlements"])
link_router = APIRouter(prefix="/v1/receipts", tags=["settlements"])

LINK_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
"""Answers of a receipt link: never cached or indexed, and the page never sends its address
(which holds the token) anywhere."""


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


@link_router.get(
    "/{setl_id}",
    response_class=HTMLResponse,
    summary="The receipt through a bill's `receipt_url` (a browser, no Bearer header)",
    responses={
        200: {"content": {"text/html": {}}, "description": "The receipt"},
        403: {
            "content": {"text/html": {}},
            "description": "The token is missing, altered, expired or another bill's (a page "
            "saying so, in Chinese and English)",
        },
        404: {"content": {"text/html": {}}, "description": "No such bill"},
    },
)
async def receipt_by_link(
    setl_id: SetlId,
    settlements: SettlementsDep,
    ctx: ContextDep,
    token: Annotated[str | None, Query(description="The token of the bill's `receipt_url`")] = None,
) -> HTMLResponse:
    """The same printable receipt as `GET /v1/settlements/{setl_id}/receipt`, opened with the
    signed, expiring token of the bill's `receipt_url` instead of the hospital's key. The
    token opens this bill's receipt only, until it expires (`SETTLEMENT_RECEIPT_TTL_S`, 24 h
    by default); it is no Bearer credential. A missing, altered, expired or other bill's
    token is a **403** HTML page (the reader is a person at a browser)."""
    try:
        stored = await settlements.stored_by_link(setl_id, token)
    except Forbidden:
        return HTMLResponse(render_link_refused(), 403, headers=LINK_HEADERS)
    except NotFound:
        return HTMLResponse(render_link_refused(bill_missing=True), 404, headers=LINK_HEADERS)
    return HTMLResponse(render_receipt(stored, ctx.settings.local_tz), headers=LINK_HEADERS)
