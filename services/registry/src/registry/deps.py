"""Typed dependencies of the routes: database session, caller and actor."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth import Actor, Caller, TokenBook
from registry.database import transaction
from shared.errors import Forbidden, Unauthorized
from shared.observability import current_request_id

_bearer = HTTPBearer(
    auto_error=False,
    description="The admin token (reads and writes) or a read token (reads only).",
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


def request_id(request: Request) -> str:
    """The request's id, as the request log and the ``X-Request-ID`` response header show it
    (the caller's ``X-Request-ID`` when it sent a plain one)."""
    assigned = current_request_id()
    if assigned:
        return assigned
    header = request.headers.get("x-request-id", "")
    return header if _REQUEST_ID.match(header) else uuid.uuid4().hex


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Caller:
    if credentials is None:
        raise Unauthorized()
    tokens: TokenBook = request.app.state.tokens
    caller = tokens.identify(credentials.credentials)
    if caller is None:
        raise Unauthorized("The bearer token is not valid.")
    request.state.caller = caller.identity
    return caller


async def require_admin(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if not caller.can_write:
        raise Forbidden("This token may only read; changes need the admin token.")
    return caller


async def current_actor(
    request: Request, caller: Annotated[Caller, Depends(require_admin)]
) -> Actor:
    return Actor(identity=caller.identity, request_id=request_id(request))


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReaderDep = Annotated[Caller, Depends(current_caller)]
ActorDep = Annotated[Actor, Depends(current_actor)]
