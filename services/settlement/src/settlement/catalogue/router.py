"""``/v1/catalogue``: the insurer's catalogue (admin imports it), hospitals' code mappings
(a hospital for its own codes, or the admin for any), and what both hold."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from starlette.requests import ClientDisconnect

from settlement.catalogue.csvfile import CATALOGUE_HEADER, CODE_PATTERN, MAPPING_HEADER
from settlement.catalogue.schemas import (
    CatalogueImportResult,
    CatalogueStatus,
    EntryVersions,
    MappingImportResult,
    MappingPage,
)
from settlement.catalogue.service import CatalogueService
from settlement.deps import AdminDep, CatalogueDep, Principal, PrincipalDep, RequestIdDep
from settlement.hospitals.repository import HospitalRef
from shared.csvfiles import require_csv
from shared.errors import (
    PROBLEM_RESPONSES,
    BadRequest,
    Forbidden,
    Unprocessable,
    problem_responses,
)

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_CATALOGUE_EXAMPLE = (
    ",".join(CATALOGUE_HEADER) + "\n"
    "001102000010000-110200001,床位费（三人间）,01,,60.00,2020-01-01,\n"
    "XJ01DCF173B002010101445,头孢呋辛钠注射剂,02,0.10,,2020-01-01,\n"
    "XL03AXX047B001010104567,注射用胸腺法新,03,,,2020-01-01,\n"
)
_MAPPING_EXAMPLE = (
    ",".join(MAPPING_HEADER) + "\n"
    "310100001,001102000010000-110200001\n"
    "XJ01CAA,XJ01DCF173B002010101445\n"
)
_IMPORT_422 = {
    **PROBLEM_RESPONSES[422],
    "description": "The file has problems; `errors` lists each as {row, column, field, "
    "message} (row = line number, header = 1) and nothing was written",
}
_UPLOAD_RESPONSES = {
    **problem_responses(401, 403, 413),
    400: {**PROBLEM_RESPONSES[422], "description": "The body was not received completely"},
    415: {**PROBLEM_RESPONSES[422], "description": "The body is not text/csv in UTF-8"},
    422: _IMPORT_422,
}
_CATALOGUE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}, "example": _CATALOGUE_EXAMPLE}},
    }
}
_MAPPING_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}, "example": _MAPPING_EXAMPLE}},
    }
}

DryRun = Annotated[bool, Query(description="Check only; write nothing")]
HospitalCode = Annotated[
    str | None,
    Query(
        max_length=32,
        description="The hospital whose mapping this is (admin token only; a hospital's key "
        "always means its own)",
    ),
]


async def _body(request: Request) -> bytes:
    """The body, read before anything else: an oversized one is a 413 whoever sends it."""
    try:
        return await request.body()
    except ClientDisconnect:
        # The client went away, or the body-size limit answered 413 and cut the body off.
        raise BadRequest("The request body was not received completely.") from None


Body = Annotated[bytes, Depends(_body)]
"""Declared first in a route, so the body is read (and its size checked) before the caller."""


async def _whose(
    principal: Principal, hospital_code: str | None, catalogue: CatalogueService
) -> HospitalRef:
    """The hospital a mapping call is about: the caller's own, or the one the admin names."""
    if principal.hospital is not None:
        if hospital_code is not None and hospital_code != principal.hospital.code:
            raise Forbidden("A hospital's key reads and writes its own mapping only.")
        return principal.hospital
    if hospital_code is None:
        raise Unprocessable.field("hospital_code", "is required with the admin token")
    return await catalogue.hospital(hospital_code)


def _wants_csv(accept: str | None) -> bool:
    if not accept:
        return False
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return "text/csv" in kinds and (
        "application/json" not in kinds or kinds.index("text/csv") < kinds.index("application/json")
    )


@router.get(
    "",
    response_model=CatalogueStatus,
    summary="Whether a catalogue is loaded, its version and size",
    responses=problem_responses(401),
)
async def catalogue_status(_caller: PrincipalDep, catalogue: CatalogueDep) -> CatalogueStatus:
    """Any hospital key or the admin token. While `loaded` is false the hospitals' declared
    categories count; once a catalogue is loaded it classifies every line."""
    return await catalogue.status()


@router.post(
    "/imports",
    response_model=CatalogueImportResult,
    summary="Import the insurer's catalogue (医保目录) from CSV (admin)",
    description=(
        "Body: `text/csv`, UTF-8 (a byte-order mark is accepted), header exactly "
        f"`{','.join(CATALOGUE_HEADER)}`: the national code, its name, `chrgitm_lv` "
        "01 甲类 / 02 乙类 / 03 丙类, `selfpay_prop` (乙类 self-pay ratio; empty: the "
        "policy's), `pric_uplmt_amt` (price cap; empty: none), `begndate`–`enddate` (both "
        "included, `YYYY-MM-DD`; an empty `enddate` is open). All or nothing: any problem → "
        "422 listing every bad row and field, nothing written. A row with a stored code's "
        "`begndate` replaces that version; a row with a new `begndate` adds a version and "
        "closes the one before it on the day before. Bills already settled keep their lines. "
        "The same file again changes nothing (`changed: false`). Same as `medaid-settlement "
        "catalogue import FILE`."
    ),
    responses=_UPLOAD_RESPONSES,
    openapi_extra=_CATALOGUE_BODY,
)
async def import_catalogue(
    data: Body,
    request: Request,
    admin: AdminDep,
    catalogue: CatalogueDep,
    request_id: RequestIdDep,
    dry_run: DryRun = False,
) -> CatalogueImportResult:
    require_csv(request.headers.get("content-type"))
    return await catalogue.import_catalogue(
        data, actor=admin.actor, request_id=request_id, dry_run=dry_run
    )


@router.get(
    "/entries/{med_list_codg}",
    response_model=EntryVersions,
    summary="Every version of a national code",
    responses=problem_responses(401, 404, 422),
)
async def entry_versions(
    med_list_codg: Annotated[str, Path(max_length=50, pattern=CODE_PATTERN)],
    _caller: PrincipalDep,
    catalogue: CatalogueDep,
) -> EntryVersions:
    """Level, self-pay ratio, price cap and date range of each version, oldest first."""
    return await catalogue.entry_versions(med_list_codg)


@router.post(
    "/mappings",
    response_model=MappingImportResult,
    summary="Map a hospital's own codes to national codes (目录对照) from CSV",
    description=(
        "A hospital's key maps its own codes; the admin token names the hospital with "
        "`?hospital_code=`. Body: `text/csv`, UTF-8, header exactly "
        f"`{','.join(MAPPING_HEADER)}`: the hospital's code (a fee line's `code`) and the "
        "national code it stands for. All or nothing: a national code the catalogue does not "
        "hold, a code listed twice or a malformed row → 422 naming every bad row. Each listed "
        "code is mapped anew (added, or replacing its earlier national code); codes the file "
        "does not list keep theirs. Same as `medaid-settlement catalogue map`."
    ),
    responses=_UPLOAD_RESPONSES,
    openapi_extra=_MAPPING_BODY,
)
async def import_mapping(
    data: Body,
    request: Request,
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    request_id: RequestIdDep,
    hospital_code: HospitalCode = None,
    dry_run: DryRun = False,
) -> MappingImportResult:
    require_csv(request.headers.get("content-type"))
    hospital = await _whose(principal, hospital_code, catalogue)
    return await catalogue.import_mapping(
        hospital, data, actor=principal.actor, request_id=request_id, dry_run=dry_run
    )


@router.get(
    "/mappings",
    response_model=MappingPage,
    summary="A hospital's mapping, JSON (paged) or CSV",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": "\ufeff" + _MAPPING_EXAMPLE}
            },
            "description": "A page of the mapping; with `Accept: text/csv` the whole mapping "
            "in the import's format (UTF-8 with a byte-order mark)",
        },
        **problem_responses(401, 403, 422),
    },
)
async def list_mapping(
    principal: PrincipalDep,
    catalogue: CatalogueDep,
    hospital_code: HospitalCode = None,
    after: Annotated[
        str, Query(max_length=64, description="`next_after` of the previous page")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """By the hospital's own code."""
    hospital = await _whose(principal, hospital_code, catalogue)
    if _wants_csv(accept):
        text = await catalogue.mapping_csv(hospital)
        return Response(
            text.encode("utf-8"),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="mapping-{hospital.code}.csv"'},
        )
    page = await catalogue.mapping_page(hospital, after=after, limit=limit)
    return Response(page.model_dump_json(), media_type="application/json")
