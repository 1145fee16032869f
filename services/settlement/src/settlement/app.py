"""The settlement service's FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from settlement.admin.router import router as admin_router
from settlement.admissions.router import router as admissions_router
from settlement.audit.router import router as audit_router
from settlement.bills import partitions
from settlement.catalogue.router import router as catalogue_router
from settlement.config import Settings
from settlement.context import AppContext
from settlement.database import Database
from settlement.engine import PolicySet, default_policy_dir
from settlement.fee_details.router import router as fee_details_router
from settlement.grants.router import router as grants_router
from settlement.hospitals.router import router as hospitals_router
from settlement.national.router import PATH as NATIONAL_PATH
from settlement.national.router import router as national_router
from settlement.persons.router import router as persons_router
from settlement.receipts.router import link_router as receipt_link_router
from settlement.receipts.router import router as receipts_router
from settlement.reconciliation.router import router as reconciliation_router
from settlement.regions.router import router as regions_router
from settlement.registry_client import RegistryClient, default_transport
from settlement.reports.router import router as reports_router
from settlement.settlements.router import router as settlements_router
from settlement.settlements.schemas import SettleRequest
from settlement.simulation import service as simulation
from settlement.simulation.router import router as simulation_router
from settlement.supervision.router import router as supervision_router
from settlement.supervision.rules import RuleSet, default_rules_file, load_rules_file
from shared.apidocs import install_local_docs
from shared.errors import (
    install_problem_handlers,
)
from shared.limits import BodySizeLimitMiddleware
from shared.observability import (
    install_observability,
    observe_db_pool,
    register_secrets,
    run_checks,
)
from shared.outage import install_outage_handlers

DESCRIPTION = """\
One-stop settlement (一站式结算) of a hospital bill across basic medical insurance,
critical-illness insurance, medical assistance and further tiers, so a patient from a poor
household pays only their own share at the counter (先诊疗后付费).

**Authentication**: `Authorization: Bearer <key>` — a hospital's API key for the settlement
endpoints, the admin token for `POST /v1/hospitals` and `POST /v1/grants`.

**Bills** use the national healthcare-security interface's vocabulary: the `setlinfo` amounts
(`medfee_sumamt`, `hifp_pay`, `hifmi_pay`, `maf_pay`, `oth_pay`, `fund_pay_sumamt`,
`psn_cash_pay`, …) and `setldetail` rows (`fund_pay_type`, `fund_payamt`, …). Money is a string
with two decimals in answers; requests may send JSON numbers or strings with at most two
decimals.

**Errors** are `application/problem+json`; a 422 lists each bad field in `errors`.
"""


def load_policies(settings: Settings) -> PolicySet:
    """Every policy file of the deployment; an invalid one raises ``PolicyError``."""
    return PolicySet.from_dir(settings.policy_dir or default_policy_dir())


def load_supervision_rules(settings: Settings) -> RuleSet:
    """The supervision rules; an invalid file raises ``RulesError`` (a ``PolicyError``)."""
    return load_rules_file(settings.supervision_rules or default_rules_file())


def _settle_request_schemas() -> dict[str, Any]:
    """The component schemas FastAPI documents for a ``SettleRequest`` body parameter (taken
    from the document of a one-route app, so they are FastAPI's own)."""
    probe = FastAPI()

    @probe.post("/")
    async def settle(body: SettleRequest) -> None:  # pragma: no cover - never called
        return None

    schemas: dict[str, Any] = probe.openapi()["components"]["schemas"]
    return schemas


def document_settle_request(app: FastAPI) -> None:
    """Add the ``SettleRequest`` schemas to the OpenAPI components: the settle routes validate
    their body themselves, from the raw bytes (``settlements.router.settle_request``), and
    document it with a reference to them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components: dict[str, Any] = schema["components"]["schemas"]
        for name, definition in _settle_request_schemas().items():
            if name not in components and name not in ("HTTPValidationError", "ValidationError"):
                components[name] = definition
        schema["components"]["schemas"] = dict(sorted(components.items()))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    settings: Settings | None = None,
    *,
    registry_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The application. ``registry_transport`` replaces the network transport of the registry
    client (tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        policies = load_policies(settings)  # a bad policy stops start-up
        rules = load_supervision_rules(settings)  # so does a bad rules file
        register_secrets(
            settings.admin_token,
            settings.registry_token,
            settings.receipt_secret,
            settings.national_secret,
        )
        db = Database.from_url(
            settings.database_url,
            pool_size=2 * settings.db_pool_size,
            application_name="medaid-settlement",
        )
        observe_db_pool(app, db)
        try:
            async with httpx.AsyncClient(
                follow_redirects=False,
                transport=registry_transport or default_transport(),
            ) as http:
                registry = RegistryClient(
                    http,
                    base_url=settings.registry_url,
                    token=settings.registry_token,
                    ttl_s=settings.eligibility_ttl_s,
                    timeout_s=settings.registry_timeout_s,
                    retry_after_s=settings.registry_retry_after_s,
                )
                ctx = AppContext.build(settings, db, registry, policies, rules)
                app.state.ctx = ctx
                tasks = (
                    []
                    if db.sqlite
                    else [
                        # The coming months' bills partitions, now and every few hours.
                        asyncio.create_task(
                            partitions.keep(db, settings.local_tz), name="partitions"
                        )
                    ]
                )
                if settings.supervision_refresh_s > 0:
                    tasks.append(
                        asyncio.create_task(ctx.supervision.run(), name="supervision-medians")
                    )
                try:
                    yield
                finally:
                    for task in tasks:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    await asyncio.to_thread(simulation.close_workers)
        finally:
            await db.dispose()

    app = FastAPI(
        title="medaid settlement",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    install_outage_handlers(app, service="settlement")
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        route_limits={
            "/v1/reconciliations/detail": settings.max_reconciliation_bytes,
            # 3202 carries a period's records in the envelope
            NATIONAL_PATH: settings.max_reconciliation_bytes,
            "/v1/catalogue/imports": settings.max_catalogue_bytes,
            "/v1/catalogue/mappings": settings.max_catalogue_bytes,
        },
    )

    async def readiness() -> dict[str, str]:
        # Ready means a settle can succeed: the database and the registry both answer.
        ctx: AppContext = app.state.ctx
        checks = await run_checks({"database": ctx.db.ping, "registry": ctx.registry.ping})
        return {**checks, "policies": ",".join(p.version for p in ctx.policies.policies)}

    install_observability(app, service="settlement", readiness=readiness)
    install_local_docs(app, title="medaid settlement")
    for router in (
        hospitals_router,
        admissions_router,
        settlements_router,
        receipts_router,
        receipt_link_router,
        fee_details_router,
        catalogue_router,
        persons_router,
        grants_router,
        reconciliation_router,
        reports_router,
        regions_router,
        simulation_router,
        national_router,
        supervision_router,
        audit_router,
        admin_router,
    ):
        app.include_router(router)
    document_settle_request(app)
    return app
