"""In-process apps for the hostile-input tests: each service's ``create_app(settings)`` over a
freshly migrated database, with test tokens, and the registry mocked for the settlement
service (respx) from a list of patients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from tests.conftest import DatabaseFactory, postgres_admin_dsn
from tests.support.data import Patient, id_number
from tests.support.processes import run_cli

REGISTRY_ADMIN_TOKEN = "registry-admin-token-for-tests-0001"
REGISTRY_READ_TOKEN = "registry-read-token-for-tests-0002"
SETTLEMENT_ADMIN_TOKEN = "settlement-admin-token-for-tests-0003"
SETTLEMENT_RECEIPT_SECRET = "settlement-receipt-secret-for-tests-0004"
WRONG_TOKEN = "this-token-is-not-known-anywhere-0004"
REGISTRY_URL = "http://registry.invalid"

PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}
)
LINK_PATHS = frozenset({"/v1/receipts/{setl_id}"})
"""Pages a browser opens with a signed link (``?token=``) instead of a Bearer token."""


def database(factory: DatabaseFactory, label: str) -> str:
    """A fresh database: PostgreSQL when a server answers (stricter types), else SQLite."""
    return factory("postgres" if postgres_admin_dsn() else "sqlite", label)


def registry_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "REGISTRY_ENV": "test",
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_ADMIN_TOKEN": REGISTRY_ADMIN_TOKEN,
        "REGISTRY_READ_TOKENS": REGISTRY_READ_TOKEN,
        **extra,
    }


def settlement_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "SETTLEMENT_ENV": "test",
        "SETTLEMENT_DATABASE_URL": url,
        "SETTLEMENT_ADMIN_TOKEN": SETTLEMENT_ADMIN_TOKEN,
        "SETTLEMENT_REGISTRY_URL": REGISTRY_URL,
        "SETTLEMENT_REGISTRY_TOKEN": REGISTRY_READ_TOKEN,
        "SETTLEMENT_RECEIPT_SECRET": SETTLEMENT_RECEIPT_SECRET,
        **extra,
    }


def _settings_kwargs(env: dict[str, str], prefix: str) -> dict[str, Any]:
    return {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}


def migrate(service: str, url: str) -> None:
    """Migrate a database with the service's own CLI (``medaid-<service> migrate``)."""
    env = registry_env(url) if service == "registry" else settlement_env(url)
    run_cli(f"medaid-{service}", ["migrate"], env)


def registry_app(url: str, *, migrated: bool = False, **extra: str) -> Any:
    """The registry app over ``url``, migrated first unless ``migrated``."""
    from registry.app import create_app
    from registry.config import Settings

    if not migrated:
        migrate("registry", url)
    return create_app(Settings(**_settings_kwargs(registry_env(url, **extra), "REGISTRY_")))


def settlement_app(
    url: str, patients: Iterable[Patient] = (), *, migrated: bool = False, **extra: str
) -> Any:
    """The settlement app over ``url`` (migrated first unless ``migrated``); its registry
    answers from ``patients``."""
    from settlement.app import create_app
    from settlement.config import Settings

    env = settlement_env(url, **extra)
    if not migrated:
        migrate("settlement", url)
    return create_app(
        Settings(**_settings_kwargs(env, "SETTLEMENT_")),
        registry_transport=httpx.MockTransport(registry_handler(patients)),
    )


def eligibility_json(patient: Patient, on: str) -> dict[str, Any]:
    return {
        "id_number_masked": patient.id_number[:6] + "********" + patient.id_number[-4:],
        "name": patient.name,
        "household_code": patient.household_code,
        "region_code": patient.id_number[:6],
        "categories": [patient.category] if patient.category not in ("", "-") else [],
        "registered": True,
        "on": on,
    }


_ELIGIBILITY = re.compile(r"/v1/persons/([0-9Xx]{18})/eligibility")


def registry_handler(patients: Iterable[Patient]) -> Callable[[httpx.Request], httpx.Response]:
    """A stand-in registry: eligibility from ``patients``, 404 for anyone else."""
    known = {p.id_number: p for p in patients if p.registered}

    def answer(request: httpx.Request) -> httpx.Response:
        match = _ELIGIBILITY.search(request.url.path)
        on = request.url.params.get("on", "2024-01-01")
        if request.headers.get("authorization") != f"Bearer {REGISTRY_READ_TOKEN}":
            return httpx.Response(401, json={"status": 401, "title": "Unauthorized"})
        patient = known.get(match.group(1).upper()) if match else None
        if patient is None:
            return httpx.Response(
                404,
                json={
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "not in the registry",
                },
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(200, json=eligibility_json(patient, on))

    return answer


def fill_path(path: str) -> str:
    """A concrete URL for a route path: ID-number parameters get a valid number."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if "id_number" in name:
            return id_number(999_001)
        if "year" in name:
            return "2024"
        return "X0000001"

    return re.sub(r"{(\w+)(?::\w+)?}", value, path)


def iter_routes(app: Any) -> list[tuple[str, frozenset[str]]]:
    """Every ``(path, methods)`` the app serves, with included routers flattened (also the
    lazily included routers of recent FastAPI versions). Mounts (static files) are left out."""
    out: list[tuple[str, frozenset[str]]] = []

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            if hasattr(route, "effective_candidates"):
                walk(route.effective_candidates())
            elif getattr(route, "methods", None) and getattr(route, "path", None):
                out.append((route.path, frozenset(route.methods)))

    walk(app.routes)
    return out
