"""Typed dependency aliases for the routes: context, connection, caller, request id."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from settlement.admissions.service import AdmissionService
from settlement.catalogue.service import CatalogueService
from settlement.context import AppContext
from settlement.database import Conn, Database
from settlement.fee_details.service import FeeDetailService
from settlement.hospitals.repository import HospitalRef
from settlement.national.service import NationalService
from settlement.persons.service import PersonService
from settlement.settlements.service import SettlementService
from settlement.supervision.service import SupervisionService
from shared.errors import Forbidden, Unauthorized
from shared.observability import current_request_id
from shared.security import secrets_equal

_bearer = HTTPBearer(
    auto_error=False,
    description="A hospital's API key (from `POST /v1/hospitals` or `medaid-settlement hospital "
    "add`), or the admin token for admin endpoints.",
)
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


async def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_db(ctx: ContextDep) -> Database:
    return ctx.db


DatabaseDep = Annotated[Database, Depends(get_db)]


async def get_connection(ctx: ContextDep) -> AsyncIterator[Conn]:
    """A read connection for the request."""
    async with ctx.db.read() as conn:
        yield conn


ConnectionDep = Annotated[Conn, Depends(get_connection)]


async def get_settlements(ctx: ContextDep) -> SettlementService:
    return ctx.settlements


async def get_admissions(ctx: ContextDep) -> AdmissionService:
    return ctx.admissions


async def get_persons(ctx: ContextDep) -> PersonService:
    return ctx.persons


async def get_fee_details(ctx: ContextDep) -> FeeDetailService:
    return ctx.fee_details


async def get_national(ctx: ContextDep) -> NationalService:
    return ctx.national


async def get_catalogue(ctx: ContextDep) -> CatalogueService:
    return ctx.catalogue


async def get_supervision(ctx: ContextDep) -> SupervisionService:
    return ctx.supervision


SettlementsDep = Annotated[SettlementService, Depends(get_settlements)]
SupervisionDep = Annotated[SupervisionService, Depends(get_supervision)]
AdmissionsDep = Annotated[AdmissionService, Depends(get_admissions)]
PersonsDep = Annotated[PersonService, Depends(get_persons)]
FeeDetailsDep = Annotated[FeeDetailService, Depends(get_fee_details)]
NationalDep = Annotated[NationalService, Depends(get_national)]
CatalogueDep = Annotated[CatalogueService, Depends(get_catalogue)]


async def get_request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` if it is sane, else a new one (recorded in the audit log
    and passed on to the registry)."""
    current = current_request_id()  # set by the observability middleware
    if current:
        return current
    existing = getattr(request.state, "request_id", None)
    if isinstance(existing, str) and existing:
        return existing
    given = request.headers.get("x-request-id")
    request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
    request.state.request_id = request_id
    return request_id


RequestIdDep = Annotated[str, Depends(get_request_id)]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the admin, or one hospital."""

    kind: Literal["admin", "hospital"]
    hospital: HospitalRef | None = None

    @property
    def actor(self) -> str:
        return "admin" if self.hospital is None else f"hospital:{self.hospital.code}"


async def current_principal(
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized()
    token = credentials.credentials.strip()
    admin = ctx.settings.admin_token
    if admin and secrets_equal(token, admin):
        return Principal("admin")
    hospital = await ctx.hospitals.by_api_key(token)
    if hospital is None:
        raise Unauthorized("The bearer token is not a valid hospital API key or admin token.")
    return Principal("hospital", hospital)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_hospital(principal: PrincipalDep) -> HospitalRef:
    if principal.hospital is None:
        raise Forbidden("This endpoint is for hospitals: authenticate with a hospital API key.")
    return principal.hospital


HospitalDep = Annotated[HospitalRef, Depends(current_hospital)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if principal.kind != "admin":
        raise Forbidden("This endpoint needs the admin token.")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
