"""Settlement endpoints: pre-settle, settle, query, list, revoke (HTTP only; the work is in
:class:`settlement.settlements.service.SettlementService`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Response, status

from settlement.deps import HospitalDep, RequestIdDep, SettlementsDep
from settlement.schemas import IsoDate
from settlement.settlements.schemas import BillOut, BillPage, RevokeRequest, SettleRequest
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/settlements", tags=["settlements"])

SetlId = Annotated[str, Path(min_length=1, max_length=64, description="The bill's `setl_id`")]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Chosen by the HIS, unique per bill (e.g. a UUID). Retrying with the same "
        "key and body returns the same bill (200); the same key with another body is a 409.",
    ),
]
_JSON = "application/json"


def _json(bill: BillOut, status_code: int) -> Response:
    # ``model_dump_json()`` as bytes, without the round trip through ``str``.
    body = bill.__pydantic_serializer__.to_json(bill)
    return Response(body, status_code=status_code, media_type=_JSON)


@router.post(
    "/preview",
    response_model=BillOut,
    summary="Pre-settle: the full bill, nothing stored (like 2206 / 2303)",
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def preview_settlement(
    body: SettleRequest,
    hospital: HospitalDep,
    settlements: SettlementsDep,
    request_id: RequestIdDep,
) -> Response:
    """Computes the bill exactly as a settle would now, on the patient's current running
    totals; stores nothing and moves no total."""
    bill = await settlements.preview(hospital, body, request_id)
    return _json(bill, status.HTTP_200_OK)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BillOut,
    summary="Settle a bill (like 2207 / 2304)",
    responses={
        200: {"model": BillOut, "description": "A retry: the bill first settled with this key"},
        **problem_responses(401, 403, 409, 422, 503),
    },
)
async def settle(
    body: SettleRequest,
    hospital: HospitalDep,
    settlements: SettlementsDep,
    request_id: RequestIdDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Splits the bill between the funds and the patient, stores it and moves the patient's
    running totals, in one transaction. **201** with the new bill; **200** with the same bill
    when the same `Idempotency-Key` and body come again; **409** when the key was used for
    another body, or when the visit already has a settled bill (the answer names its
    `setl_id`). **503** with `Retry-After` when the registry cannot be asked (nothing
    written)."""
    result = await settlements.settle(hospital, body, idempotency_key, request_id)
    return _json(result.bill, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


@router.get(
    "",
    response_model=BillPage,
    summary="The hospital's bills of a day",
    responses=problem_responses(401, 403, 422),
)
async def list_settlements(
    hospital: HospitalDep,
    settlements: SettlementsDep,
    on: Annotated[
        IsoDate | None,
        Query(alias="date", description="Settlement date (local), YYYY-MM-DD; default today"),
    ] = None,
    status_filter: Annotated[Literal["settled", "revoked"] | None, Query(alias="status")] = None,
    after: Annotated[
        str | None, Query(max_length=64, description="`next_after` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> BillPage:
    items, next_after = await settlements.list_bills(
        hospital, on=on, status=status_filter, after=after, limit=limit
    )
    return BillPage(items=items, next_after=next_after)


@router.get(
    "/{setl_id}",
    response_model=BillOut,
    summary="One bill (like 5203)",
    responses=problem_responses(401, 403, 404),
)
async def get_settlement(
    setl_id: SetlId, hospital: HospitalDep, settlements: SettlementsDep
) -> Response:
    """The hospital's own bills only: another hospital's `setl_id` is a 404."""
    return _json(await settlements.get_bill(hospital, setl_id), status.HTTP_200_OK)


@router.post(
    "/{setl_id}/revoke",
    response_model=BillOut,
    summary="Revoke a bill (like 2208 / 2305)",
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_settlement(
    setl_id: SetlId,
    hospital: HospitalDep,
    settlements: SettlementsDep,
    request_id: RequestIdDep,
    body: Annotated[RevokeRequest | None, Body()] = None,
) -> Response:
    """Marks the bill `revoked` and takes its amounts back out of the patient's running totals
    (and gives back any temporary-assistance grant it drew on), in one transaction. Revoking
    a revoked bill returns it unchanged."""
    bill = await settlements.revoke(
        hospital, setl_id, reason=body.reason if body else None, request_id=request_id
    )
    return _json(bill, status.HTTP_200_OK)
