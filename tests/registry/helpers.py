"""Helpers to set up a registry in tests, reusable by other suites (end-to-end tests).

* :func:`person_id` — a valid resident ID number for a sequence number.
* :func:`csv_text` / :func:`write_csv` — an import file from rows (tuples in header order or
  dicts keyed by column; missing dict keys are empty).
* :func:`registry_settings` — settings with the test tokens for a database URL.
* :func:`seed_registry` — migrate a database and import rows into it, without HTTP.
* :func:`registry_client` — the app in process, behind an ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date

import httpx

from registry.app import create_app
from registry.auth import Actor
from registry.config import Settings
from registry.database import migrate, transaction
from registry.imports.csvfile import HEADER, HEADER_LINE
from registry.imports.schemas import ImportResult
from registry.imports.service import import_csv
from shared.db import make_engine, make_sessionmaker
from shared.idnumber import check_character

ADMIN_TOKEN = "test-registry-admin-token-7f3a9c"
READ_TOKEN = "test-registry-read-token-51be20"
READ_LABEL = "settlement"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READER = {"Authorization": f"Bearer {READ_TOKEN}"}
CSV = {"Content-Type": "text/csv"}

Row = Sequence[str] | Mapping[str, str]


def person_id(seq: int, *, area: str = "370305", born: date = date(1980, 1, 1)) -> str:
    """A valid ID number; distinct for each ``seq`` in 0..999 (and each birth date)."""
    first17 = f"{area}{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + check_character(first17)


def _cells(row: Row) -> list[str]:
    if isinstance(row, Mapping):
        unknown = set(row) - set(HEADER)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        return [str(row.get(column, "")) for column in HEADER]
    cells = [str(cell) for cell in row]
    if len(cells) != len(HEADER):
        raise ValueError(f"a row needs {len(HEADER)} cells: {cells}")
    return cells


def csv_text(rows: Iterable[Row], *, header: str = HEADER_LINE) -> str:
    """The import file's text: the header, then one line per row (no quoting needed for the
    values tests use; cells with commas or quotes are quoted)."""

    def cell(value: str) -> str:
        if any(ch in value for ch in ',"\n\r'):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [header] + [",".join(cell(c) for c in _cells(row)) for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(rows: Iterable[Row], directory: str | os.PathLike[str] | None = None) -> str:
    """Write an import file and return its path (for ``medaid-registry import FILE``)."""
    handle, path = tempfile.mkstemp(prefix="registry-", suffix=".csv", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        out.write(csv_text(rows))
    return path


def registry_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "admin_token": ADMIN_TOKEN,
        "read_tokens": f"{READ_LABEL}:{READ_TOKEN}",
    }
    values.update(overrides)
    return Settings.model_validate(values)


def seed_registry(database_url: str, rows: Iterable[Row]) -> ImportResult:
    """Migrate the database and import ``rows`` (call from sync code: it runs its own loop)."""
    migrate(database_url)
    data = csv_text(rows).encode()

    async def go() -> ImportResult:
        engine = make_engine(database_url, pool_size=1)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await import_csv(session, data, actor=Actor("test-seed"))
        finally:
            await engine.dispose()

    return asyncio.run(go())


@asynccontextmanager
async def registry_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The registry app (lifespan started) behind an in-process ``httpx.AsyncClient``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            yield client
