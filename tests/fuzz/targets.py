"""The apps under fuzzing, built when the test modules are imported (schemathesis needs the
schema at collection), over databases that ``conftest.fuzz_databases`` creates and migrates
before the first test and drops after the last (PostgreSQL when a server answers, else
SQLite). Nothing connects to a database until a test calls the app."""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

import schemathesis

from tests.conftest import postgres_admin_dsn
from tests.support.data import make_patients

EXAMPLES = int(os.environ.get("MEDAID_FUZZ_EXAMPLES", "25"))
RUN_ID = uuid.uuid4().hex[:8]
PATIENTS = make_patients(50, seed=5, start=800_000)
HOSPITAL_KEYS: dict[str, str] = {}
_SQLITE_DIR: str | None = None


def database_url(label: str) -> str:
    global _SQLITE_DIR
    dsn = postgres_admin_dsn()
    if dsn:
        return f"{dsn.rpartition('/')[0]}/medaid_fuzz_{RUN_ID}_{label}"
    _SQLITE_DIR = _SQLITE_DIR or tempfile.mkdtemp(prefix="medaid-fuzz-")
    return f"sqlite:///{_SQLITE_DIR}/{label}.db"


DATABASES = {"registry": database_url("registry"), "settlement": database_url("settlement")}


def asgi_schema(app: Any) -> Any:
    """The app's OpenAPI document as a schemathesis schema that calls the app in-process."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    return schema
