"""A tiny app wired like the services, for the observability tests (and the SIGTERM test,
which serves it from a real process)."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from starlette.staticfiles import StaticFiles

from shared.errors import install_problem_handlers
from shared.limits import BodySizeLimitMiddleware
from shared.observability import (
    current_request_id,
    install_observability,
    record_registry_call,
    record_revoke,
    record_settlement,
    request_id_headers,
    run_checks,
)

log = logging.getLogger("demo")


def create_app(*, ready: bool = True, service: str = "demo") -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    state = {"ready": ready}
    app.state.readiness = state

    async def database() -> None:
        if not state["ready"]:
            raise ConnectionRefusedError("connect call failed ('10.0.0.5', 5432)")

    async def readiness() -> dict[str, str]:
        return await run_checks({"database": database})

    @app.get("/v1/persons/{id_number}/eligibility")
    async def eligibility(id_number: str, request: Request) -> dict[str, object]:
        # Services must not do this; the redaction is there for when one does.
        log.info("looked up %s with %s", id_number, request.headers.get("authorization"))
        return {
            "request_id": current_request_id(),
            "outgoing": request_id_headers(),
        }

    @app.post("/v1/settlements")
    async def settle() -> dict[str, str]:
        record_settlement({"390100": Decimal("750.00"), "610100": Decimal("120.50")})
        record_registry_call("ok", 0.012)
        return {"status": "settled"}

    @app.post("/v1/settlements/{setl_id}/revoke")
    async def revoke(setl_id: str) -> dict[str, str]:
        record_revoke([("390100", Decimal("750.00"))])
        return {"status": "revoked"}

    @app.get("/boom/{id_number}")
    async def boom(id_number: str) -> None:
        raise RuntimeError(f"cannot handle {id_number}")

    @app.get("/slow")
    async def slow(seconds: float = 1.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"status": "done"}

    hospitals = APIRouter(prefix="/v1/hospitals")

    @hospitals.get("/{code}")
    async def hospital(code: str) -> dict[str, str]:
        return {"code": code}

    app.include_router(hospitals)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent), name="static")

    app.add_middleware(BodySizeLimitMiddleware, max_bytes=1024)
    install_observability(app, service=service, readiness=readiness)
    return app
