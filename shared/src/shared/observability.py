"""Health, readiness, metrics and request logging shared by the services.

Each service's ``create_app`` calls :func:`install_observability` once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
"""Returns ``{"database": "ok", ...}``; raises (any exception) when not ready."""


def install_observability(app: FastAPI, *, service: str, readiness: ReadinessCheck) -> None:
    """Add ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` and one JSON log line per request."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ready", **(await readiness())}
