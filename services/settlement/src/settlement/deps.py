"""Typed dependency aliases for the routes: context, connection, caller, request id."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase

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

_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

# Every dependency below takes the request itself and nothing solved by another dependency:
# FastAPI solves each dependency of a route on every request (its parameters, its cache key),
# so a chain (context → credentials → principal → hospital) costs a solve per link.


def _context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_context(request: Request) -> AppContext:
    return _context(request)


ContextDep = Annotated[AppContext, Depends(get_context)]


async def get_db(request: Request) -> Database:
    return _context(request).db


DatabaseDep = Annotated[Database, Depends(get_db)]


async def get_connection(request: Request) -> AsyncIterator[Conn]:
    """A read connection for the request."""
    async with _context(request).db.read() as conn:
        yield conn


ConnectionDep = Annotated[Conn, Depends(get_connection)]


async def get_settlements(request: Request) -> SettlementService:
    return _context(request).settlements


async def get_admissions(request: Request) -> AdmissionService:
    return _context(request).admissions


async def get_persons(request: Request) -> PersonService:
    return _context(request).persons


async def get_fee_details(request: Request) -> FeeDetailService:
    return _context(request).fee_details


async def get_national(request: Request) -> NationalService:
    return _context(request).national


async def get_catalogue(request: Request) -> CatalogueService:
    return _context(request).catalogue


async def get_supervision(request: Request) -> SupervisionService:
    return _context(request).supervision


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


async def _principal(request: Request) -> Principal:
    """The caller named by ``Authorization: Bearer <token>``: the admin token, or a hospital's
    API key. Raises ``Unauthorized`` (401) for a missing, malformed or unknown token."""
    # As fastapi.security.HTTPBearer reads the header: "<scheme> <credentials>".
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    ctx = _context(request)
    admin = ctx.settings.admin_token
    if admin and secrets_equal(token, admin):
        return Principal("admin")
    hospital = await ctx.hospitals.by_api_key(token)
    if hospital is None:
        raise Unauthorized("The bearer token is not a valid hospital API key or admin token.")
    return Principal("hospital", hospital)


T = TypeVar("T")


def _as_principal(principal: Principal) -> Principal:
    return principal


def _as_hospital(principal: Principal) -> HospitalRef:
    if principal.hospital is None:
        raise Forbidden("This endpoint is for hospitals: authenticate with a hospital API key.")
    return principal.hospital


def _as_admin(principal: Principal) -> Principal:
    if principal.kind != "admin":
        raise Forbidden("This endpoint needs the admin token.")
    return principal


_BEARER_MODEL = HTTPBearerModel(
    description="A hospital's API key (from `POST /v1/hospitals` or `medaid-settlement hospital "
    "add`), or the admin token for admin endpoints."
)


class BearerCaller(SecurityBase, Generic[T]):
    """The bearer-token security scheme (``HTTPBearer`` in the OpenAPI document) as the one
    dependency that also resolves the caller: ``pick`` turns the :class:`Principal` into what
    the route receives, or raises ``Forbidden`` (403)."""

    def __init__(self, pick: Callable[[Principal], T]) -> None:
        self.model = _BEARER_MODEL
        self.scheme_name = "HTTPBearer"
        self._pick = pick

    async def __call__(self, request: Request) -> T:
        return self._pick(await _principal(request))


PrincipalDep = Annotated[Principal, Depends(BearerCaller(_as_principal))]
HospitalDep = Annotated[HospitalRef, Depends(BearerCaller(_as_hospital))]
AdminDep = Annotated[Principal, Depends(BearerCaller(_as_admin))]
