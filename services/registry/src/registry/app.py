"""The registry's FastAPI application: ``create_app(settings)`` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from registry.auth import TokenBook
from registry.config import Settings
from registry.households.router import router as households_router
from registry.imports.router import router as imports_router
from registry.persons.router import router as persons_router
from registry.statuses.router import router as statuses_router
from registry.unavailable import install_outage_handlers
from shared.db import make_engine, make_sessionmaker
from shared.errors import install_problem_handlers
from shared.limits import BodySizeLimitMiddleware
from shared.observability import (
    install_observability,
    observe_db_pool,
    ping_database,
    register_secrets,
    run_checks,
)

IMPORTS_PATH = "/v1/imports"

DESCRIPTION = """\
Households, persons and their poverty / assistance status over time (动态管理), for the
settlement service and the poverty office.

Every `/v1` route needs `Authorization: Bearer <token>`: the admin token reads and writes, a
read token only reads. Errors are `application/problem+json`. ID numbers are shown masked
(`370305********1234`).
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database engine for the app's life; close it on shutdown."""
    settings: Settings = app.state.settings
    engine = make_engine(settings.database_url)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    observe_db_pool(app, engine)
    try:
        yield
    finally:
        await engine.dispose()


class _BodyLimits:
    """The import route takes files of up to ``max_import_bytes``; everything else
    ``max_body_bytes``. Oversized bodies → 413 problem+json."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_import_bytes: int) -> None:
        self.default = BodySizeLimitMiddleware(app, max_body_bytes)
        self.imports = BodySizeLimitMiddleware(app, max_import_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") == IMPORTS_PATH:
            await self.imports(scope, receive, send)
        else:
            await self.default(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The registry API. Raises ``InsecureSettings`` outside ``REGISTRY_ENV=dev`` when a
    token is missing or a published demo token."""
    settings = settings or Settings()
    settings.check_tokens()
    settings.zone()  # an unknown REGISTRY_TIMEZONE fails here, not on the first request

    app = FastAPI(
        title="medaid registry",
        summary="Poverty and assistance status of households and persons over time",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = TokenBook(settings)
    register_secrets(settings.admin_token, *(t.token for t in settings.parsed_read_tokens()))
    install_problem_handlers(app)
    install_outage_handlers(app)
    app.add_middleware(
        _BodyLimits,
        max_body_bytes=settings.max_body_bytes,
        max_import_bytes=settings.max_import_bytes,
    )
    app.include_router(imports_router)
    app.include_router(persons_router)
    app.include_router(households_router)
    app.include_router(statuses_router)

    async def readiness() -> dict[str, str]:
        engine: AsyncEngine = app.state.engine
        return await run_checks({"database": lambda: ping_database(engine)})

    install_observability(app, service="registry", readiness=readiness)
    return app
