"""Test infrastructure shared by every suite: databases on SQLite and on PostgreSQL.

PostgreSQL: the suite creates a fresh database per service for the run and drops it after.
Without a reachable server the PostgreSQL tests skip with a visible reason, unless
``REQUIRE_POSTGRES=1`` (CI), where they fail instead. ``MEDAID_TEST_PG`` overrides the admin
URL (default: ``postgresql://postgres@127.0.0.1:5432/postgres``, then user ``root``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

T = TypeVar("T")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
_CANDIDATES = (
    [os.environ["MEDAID_TEST_PG"]]
    if os.environ.get("MEDAID_TEST_PG")
    else [
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "postgresql://root@127.0.0.1:5432/postgres",
    ]
)


def _run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in a thread, so fixtures can do admin
    work whether or not the test's event loop is running."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro_fn()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _probe(dsn: str) -> bool:
    async def go() -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return _run(go)


_admin_dsn: str | None | bool = False  # False = not probed yet


def postgres_admin_dsn() -> str | None:
    """The admin DSN of a reachable server, or None (probed once per run)."""
    global _admin_dsn
    if _admin_dsn is False:
        _admin_dsn = next((dsn for dsn in _CANDIDATES if _probe(dsn)), None)
    return _admin_dsn or None


def require_postgres() -> str:
    dsn = postgres_admin_dsn()
    if dsn is None:
        message = f"PostgreSQL not reachable at {_CANDIDATES[0]}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " and REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(message + "; PostgreSQL tests skipped (set REQUIRE_POSTGRES=1 to fail)")
    return dsn


def pytest_report_header(config: pytest.Config) -> list[str]:
    from tests.support.browser import report_header

    dsn = postgres_admin_dsn()
    state = f"reachable ({dsn})" if dsn else "NOT reachable: PostgreSQL tests will skip"
    if dsn is None and REQUIRE_POSTGRES:
        state = "NOT reachable and REQUIRE_POSTGRES=1: PostgreSQL tests will fail"
    return [f"medaid: PostgreSQL {state}", report_header()]


def _admin(dsn: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    _run(go)


def _with_database(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


DatabaseFactory = Callable[[str, str], str]


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    """``factory(kind, label)`` → a plain database URL (``sqlite:///…`` or ``postgresql://…``)
    for a new, empty database. PostgreSQL databases are dropped at the end of the run."""
    created: list[tuple[str, str]] = []
    run_id = uuid.uuid4().hex[:8]

    def factory(kind: str, label: str) -> str:
        if kind == "sqlite":
            path: Path = tmp_path_factory.mktemp(f"db-{label}") / f"{label}.db"
            return f"sqlite:///{path}"
        if kind == "postgres":
            dsn = require_postgres()
            name = f"medaid_test_{run_id}_{label}_{len(created)}"
            _admin(dsn, f'CREATE DATABASE "{name}"')
            created.append((dsn, name))
            return _with_database(dsn, name)
        raise ValueError(kind)

    yield factory
    for dsn, name in created:
        _admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Any test parametrised with a "postgres" backend carries the postgres marker, so
    # `-m postgres` selects them and the report shows how many ran.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.id.split("-"):
            item.add_marker(pytest.mark.postgres)
