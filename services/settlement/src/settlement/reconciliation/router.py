"""Reconciliation endpoints: summary (3201), detail (3202), stored reconciliations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from settlement.deps import ContextDep, PrincipalDep, RequestIdDep
from settlement.reconciliation import service
from settlement.reconciliation.parsing import (
    FLAG_COLUMN,
    TSV_COLUMNS,
    TSV_MEDIA_TYPES,
    parse_json,
    parse_tsv,
)
from settlement.reconciliation.schemas import (
    MAX_DETAIL_DAYS,
    DetailRequest,
    DetailResult,
    HospitalCode,
    ReconciliationDetailOut,
    ReconciliationPage,
    SummaryRequest,
    SummaryResult,
    check_period,
)
from settlement.schemas import IsoDate, Strict
from shared.errors import (
    PROBLEM_RESPONSES,
    BadRequest,
    UnsupportedMediaType,
    problem_responses,
    validation_problem,
)

router = APIRouter(prefix="/v1/reconciliations", tags=["reconciliation"])

_JSON = "application/json"
_TSV = "text/tab-separated-values"
_NOT_JSON: dict[int | str, dict[str, Any]] = {
    400: {**PROBLEM_RESPONSES[422], "description": "The body is not valid JSON"}
}
_UNSUPPORTED: dict[int | str, dict[str, Any]] = {
    415: {
        **PROBLEM_RESPONSES[422],
        "description": "The body is neither JSON nor tab-separated values",
    }
}


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (for a hand-documented request body)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_TSV_EXAMPLE = (
    "\t".join((*TSV_COLUMNS, FLAG_COLUMN))
    + "\nS20261127031502123456a1b2c3\tZY20261120001\t370305198001011237"
    + "\t3200.00\t2950.00\tsettled\t0"
    + "\nR20261127064511000042d4e5f6\tZY20261119004\t370305195810062882"
    + "\t-812.40\t-700.00\trevoked\t1\n"
)


@router.post(
    "/summary",
    response_model=SummaryResult,
    summary="Reconcile a period's totals (like 3201 对总账)",
    responses={**problem_responses(401, 403, 413, 422), **_NOT_JSON},
)
async def reconcile_summary(
    body: SummaryRequest,
    principal: PrincipalDep,
    ctx: ContextDep,
    request_id: RequestIdDep,
) -> SummaryResult:
    """The hospital's totals for a period of settlement dates (`begin_date`..`end_date`, local,
    both included) beside the service's: record count, `medfee_sumamt`, `fund_pay_sumamt`,
    `psn_cash_pay`. The period's books are the bills settled in it (revoked later or not) and
    the reversals of the revokes made in it: the totals are **net** (a reversal's amounts are
    negative) and `setl_cnt` counts both, so a closed period's totals never change. With
    `include_revoked` true the totals are of the bills settled in the period only (reversals
    left out). `visit_type` narrows to inpatient or outpatient records. `matched` is true when
    all four agree; `differences` are the service's totals minus the hospital's. A hospital
    reconciles its own bills (API key); the admin names the hospital with `hospital_code`.
    Stored and listed under `GET /v1/reconciliations`."""
    hospital = await service.target_hospital(ctx.db, principal.hospital, body.hospital_code)
    return await service.reconcile_summary(
        ctx.db, hospital, body, actor=principal.actor, request_id=request_id
    )


class _Period(Strict):
    begin_date: IsoDate
    end_date: IsoDate
    hospital_code: HospitalCode | None = None


def _period(values: dict[str, Any], source: str) -> _Period:
    try:
        period = _Period.model_validate(values)
        check_period(period.begin_date, period.end_date, MAX_DETAIL_DAYS)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = []
        for error in exc.errors():
            entry = dict(error)
            if source != "body":
                entry["loc"] = (source, *error["loc"])
            errors.append(entry)
        raise validation_problem(errors) from None
    except ValueError as exc:
        field = "query.end_date" if source == "query" else "end_date"
        raise validation_problem([{"loc": (field,), "msg": str(exc)}]) from None
    return period


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise BadRequest("The client went away before the body was complete.") from None


@router.post(
    "/detail",
    response_model=DetailResult,
    summary="Reconcile a period bill by bill (like 3202 对明细账)",
    responses={**problem_responses(401, 403, 413, 422), **_UNSUPPORTED},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": _inline_schema(DetailRequest)},
                _TSV: {
                    "schema": {"type": "string"},
                    "example": _TSV_EXAMPLE,
                },
            },
        }
    },
)
async def reconcile_detail(
    request: Request,
    principal: PrincipalDep,
    ctx: ContextDep,
    request_id: RequestIdDep,
    begin_date: Annotated[
        str | None, Query(description="First settlement date, YYYY-MM-DD (TSV bodies)")
    ] = None,
    end_date: Annotated[
        str | None, Query(description="Last settlement date, YYYY-MM-DD (TSV bodies)")
    ] = None,
    hospital_code: Annotated[
        str | None, Query(max_length=32, description="The hospital (admin token only)")
    ] = None,
    rows: Annotated[
        Literal["all", "mismatched"],
        Query(description="`mismatched`: leave the matched bills out of `rows`"),
    ] = "all",
) -> Response:
    """The hospital's books of a period (settlement dates, local, both included; at most 31
    days), as JSON (`{"begin_date", "end_date", "bills": [...]}`) or as tab-separated text
    (`Content-Type: text/tab-separated-values`, a header row naming the columns `setl_id`,
    `visit_id`, `id_number`, `medfee_sumamt`, `fund_pay_sumamt`, `status` and optionally
    `refd_setl_flag`, then one record per line; the period in the query). The text is parsed
    line by line as it arrives; bad rows are a 422 listing each bad line and field.

    The books hold every bill settled in the period, with its status at the end of the period
    (`revoked` when revoked in it, `settled` when revoked later or not at all), and the
    reversal of every revoke made in the period as a record of its own: its own `setl_id`,
    `refd_setl_flag` 1, status `revoked`, negative amounts. Every record on either side gets a
    row with `result`: `"0"` matched (对平), `"1"` only the service has it (中心多), `"2"` only
    the hospital has it (医药机构多), `"3"` both have it and an amount, the status, the flag,
    the visit or the patient differs (数据不一致; `differences` names each field). Stored with
    the mismatching rows and listed under `GET /v1/reconciliations`."""
    media_type = request.headers.get("content-type", _JSON).split(";")[0].strip().lower()
    query = {
        k: v
        for k, v in (
            ("begin_date", begin_date),
            ("end_date", end_date),
            ("hospital_code", hospital_code),
        )
        if v is not None
    }
    if media_type in TSV_MEDIA_TYPES:
        period = _period(query, "query")
        hospital = await service.target_hospital(ctx.db, principal.hospital, period.hospital_code)
        books = await parse_tsv(_chunks(request))
    elif media_type == _JSON or media_type.endswith("+json"):
        try:
            body = await request.body()
        except ClientDisconnect:
            raise BadRequest("The client went away before the body was complete.") from None
        parsed = parse_json(body)
        period = _period({**query, **parsed.head}, "body")
        hospital = await service.target_hospital(ctx.db, principal.hospital, period.hospital_code)
        books = parsed.bills
    else:
        raise UnsupportedMediaType(
            f"Send the bills as {_JSON} or {_TSV} (got {media_type or 'no content type'})."
        )
    outcome = await service.reconcile_detail(
        ctx.db,
        hospital,
        period.begin_date,
        period.end_date,
        books,
        actor=principal.actor,
        request_id=request_id,
    )
    return Response(
        service.detail_json(outcome, only_mismatches=rows == "mismatched"),
        media_type=_JSON,
    )


@router.get(
    "",
    response_model=ReconciliationPage,
    summary="Stored reconciliations, newest first",
    responses=problem_responses(401, 403, 422),
)
async def list_reconciliations(
    principal: PrincipalDep,
    ctx: ContextDep,
    matched: Annotated[
        bool | None, Query(description="`false`: only those that did not match")
    ] = None,
    hospital_code: Annotated[
        str | None, Query(max_length=32, description="One hospital (admin token)")
    ] = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="`next_before` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ReconciliationPage:
    """A hospital sees its own reconciliations; the admin every hospital's (or one, with
    `hospital_code`)."""
    hospital_id: int | None
    if principal.hospital is not None or hospital_code is not None:
        hospital = await service.target_hospital(ctx.db, principal.hospital, hospital_code)
        hospital_id = hospital.id
    else:
        hospital_id = None
    items, next_before = await service.list_reconciliations(
        ctx.db, hospital_id=hospital_id, matched=matched, before=before, limit=limit
    )
    return ReconciliationPage(items=items, next_before=next_before)


@router.get(
    "/{reconciliation_id}",
    response_model=ReconciliationDetailOut,
    summary="One stored reconciliation with its mismatching bills",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_reconciliation(
    reconciliation_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: PrincipalDep,
    ctx: ContextDep,
) -> ReconciliationDetailOut:
    hospital_id = principal.hospital.id if principal.hospital is not None else None
    return await service.get_reconciliation(ctx.db, reconciliation_id, hospital_id=hospital_id)
