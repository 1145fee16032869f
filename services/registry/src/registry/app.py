"""The registry's FastAPI application: ``create_app(settings)`` and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.auth import TokenBook
from registry.config import Settings
from registry.households.router import router as households_router
from registry.imports.router import router as imports_router
from registry.persons.eligibility import open_lookup
from registry.persons.router import router as persons_router
from registry.statuses.router import router as statuses_router
from shared.apidocs import install_local_docs
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
from shared.outage import install_outage_handlers

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
    """Open the database engine and the eligibility lookup for the app's life; close them on
    shutdown."""
    settings: Settings = app.state.settings
    engine = make_engine(settings.database_url)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    observe_db_pool(app, engine)
    try:
        app.state.eligibility = await open_lookup(engine, settings.database_url)
        try:
            yield
        finally:
            await app.state.eligibility.close()
    finally:
        await engine.dispose()


def check_settings(settings: Settings) -> None:
    """Refuse settings the registry cannot serve with: ``InsecureSettings`` outside
    ``REGISTRY_ENV=dev`` when a token is missing or a published demo token, ``ValueError`` for
    an unknown ``REGISTRY_TIMEZONE`` (here, not on the first request)."""
    settings.check_tokens()
    settings.zone()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The registry API. Raises as :func:`check_settings` does."""
    settings = settings or Settings()
    check_settings(settings)

    app = FastAPI(
        title="medaid registry",
        summary="Poverty and assistance status of households and persons over time",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.tokens = TokenBook(settings)
    register_secrets(settings.admin_token, *(t.token for t in settings.parsed_read_tokens()))
    install_problem_handlers(app)
    install_outage_handlers(app, service="registry")
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        route_limits={IMPORTS_PATH: settings.max_import_bytes},
    )
    app.include_router(imports_router)
    app.include_router(persons_router)
    app.include_router(households_router)
    app.include_router(statuses_router)

    async def readiness() -> dict[str, str]:
        engine: AsyncEngine = app.state.engine
        return await run_checks({"database": lambda: ping_database(engine)})

    install_observability(app, service="registry", readiness=readiness)
    install_local_docs(app, title="medaid registry")
    return app
