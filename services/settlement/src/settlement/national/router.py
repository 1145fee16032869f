"""``POST /fsi/api/rsfComIfsService/callService``: the national platform's one address (HTTP
only; the work is in :class:`settlement.national.service.NationalService`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from settlement.deps import NationalDep, RequestIdDep
from settlement.national.schemas import ENVELOPE_EXAMPLE, Envelope, EnvelopeOut
from shared.errors import BadRequest, problem_responses

PATH = "/fsi/api/rsfComIfsService/callService"
router = APIRouter(tags=["national interface"])

_ANSWER_EXAMPLE: dict[str, Any] = {
    "infcode": -1,
    "inf_refmsgid": "2026113010300012345678a1b2c3d4",
    "refmsg_time": "2026-11-30 10:30:00.120",
    "respond_time": "2026-11-30 10:30:00.180",
    "err_msg": "医疗费总额(data.medfee_sumamt)：与未结算费用明细合计 126.50 不符",
    "warn_msg": None,
    "output": None,
}


@router.post(
    PATH,
    response_model=EnvelopeOut,
    summary="The national interface (国家医保信息平台接口): one envelope per transaction",
    responses={
        200: {"content": {"application/json": {"example": _ANSWER_EXAMPLE}}},
        **problem_responses(401, 413, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": Envelope.model_json_schema(),
                    "example": ENVELOPE_EXAMPLE,
                }
            },
        }
    },
)
async def call_service(
    request: Request, national: NationalDep, request_id: RequestIdDep
) -> Response:
    """An HIS integrated with the national platform sends its envelopes here instead
    (`infno`, `msgid`, `fixmedins_code`, `input`, …; other envelope fields are accepted and
    ignored). Every answer to an authenticated call is HTTP 200 with the answer envelope:
    `infcode` 0 and the transaction's `output`, or `infcode` -1 and an `err_msg` in Chinese
    naming the field (nothing was done). A missing or wrong key is a 401: send
    `Authorization: Bearer <the hospital's API key>` or the signed `x-tif-*` headers; the
    envelope's `fixmedins_code` must be that hospital's code. Supported transactions, field
    lists and examples: `docs/national-interface.md`."""
    try:
        body = await request.body()
    except ClientDisconnect:
        raise BadRequest("The client went away before the body was complete.") from None
    hospital = await national.auth.hospital(request.headers, body)
    answer = await national.call(hospital, body, request_id)
    return Response(answer.encode("utf-8"), media_type="application/json")
