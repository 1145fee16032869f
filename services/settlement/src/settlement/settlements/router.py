"""Settlement endpoints: pre-settle, settle, query, list, revoke (HTTP only; the work is in
:class:`settlement.settlements.service.SettlementService`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import (
    APIRouter,
    Body,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from settlement.deps import HospitalDep, RequestIdDep, SettlementsDep
from settlement.schemas import IsoDate
from settlement.settlements.schemas import BillOut, BillPage, RevokeRequest, SettleRequest
from shared.errors import Unprocessable, problem_responses

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


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/*+json`` (parameters ignored), as FastAPI
    decides whether a body is JSON."""
    kind = (content_type or "").partition(";")[0].strip().lower()
    return kind == _JSON or (kind.startswith("application/") and kind.endswith("+json"))


async def settle_request(request: Request) -> SettleRequest:
    """The settle / pre-settle body, validated by pydantic-core straight from the request's
    bytes (``model_validate_json``) instead of FastAPI's ``json.loads`` and a validation of
    the Python objects it made. Refusals are FastAPI's (``RequestValidationError``, each
    field under ``body``, a 422 problem): an empty body is missing, a body without a JSON
    content type is not an object, bad JSON says why; a body that is not UTF-8 is a 422
    naming ``body`` as before."""
    try:
        body = await request.body()
    except ClientDisconnect:
        # The client went away, or the body limit answered 413 and ended the stream: this
        # answer is not delivered (as FastAPI answers a body it could not read).
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "The request body could not be read."
        ) from None
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        if not _is_json(request.headers.get("content-type")):
            return SettleRequest.model_validate(body)  # raises: not an object
        return SettleRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors[0]["type"] == "json_invalid" and not _utf8(body):
            raise Unprocessable.field("body", "could not be read (not valid UTF-8 JSON)") from None
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def _utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


SettleBody = Annotated[SettleRequest, Depends(settle_request)]
# The request body as FastAPI documents a ``SettleRequest`` body parameter (the schema itself
# is added to the document's components by ``settlement.app``).
_SETTLE_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/SettleRequest"}}},
    }
}


def _json(bill: BillOut, status_code: int) -> Response:
    # ``model_dump_json()`` as bytes, without the round trip through ``str``.
    body = bill.__pydantic_serializer__.to_json(bill)
    return Response(body, status_code=status_code, media_type=_JSON)


@router.post(
    "/preview",
    response_model=BillOut,
    summary="Pre-settle: the full bill, nothing stored (like 2206 / 2303)",
    responses=problem_responses(401, 403, 409, 422, 503),
    openapi_extra=_SETTLE_BODY_DOC,
)
async def preview_settlement(
    hospital: HospitalDep,  # first: the caller is known before the body is read
    body: SettleBody,
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
    openapi_extra=_SETTLE_BODY_DOC,
)
async def settle(
    hospital: HospitalDep,  # first: a caller without a valid token gets 401, not the body's 422
    body: SettleBody,
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
