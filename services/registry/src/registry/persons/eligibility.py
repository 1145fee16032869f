"""Eligibility lookups, the settlement service's hot read: one indexed statement per call.

Both backends run :data:`registry.persons.repository.ELIGIBILITY` (the one definition of the
rule). On PostgreSQL it is compiled once for asyncpg and executed on a small asyncpg pool of
its own: asyncpg prepares it once per connection, and a single read-only statement needs no
ORM session, no transaction block, no pre-ping and no reset query when the connection goes
back to the pool (it leaves no session state behind). Behind PgBouncer in transaction mode the
URL says ``statement_cache_size=0`` and asyncpg sends it unnamed, parsed on each call. The pool
connects like the engine: every host of a multi-host URL, with its ``target_session_attrs``.
Other backends (SQLite) run it through SQLAlchemy Core on the service's engine.

A connection the server dropped (a restart) is noticed by asyncpg and replaced on the next
checkout; a request caught on it fails with asyncpg's connection error, raised as SQLAlchemy's
``OperationalError`` so that the outage handler answers it with a 503 (``shared.outage``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.persons.repository import ELIGIBILITY, EligibilityRow, eligibility_row
from shared.dburl import asyncpg_connect_kwargs
from shared.outage import database_unavailable

POOL_SIZE = 10
APPLICATION_NAME = "medaid-registry eligibility"
"""``application_name`` of the lookup's connections, as ``pg_stat_activity`` shows them."""
CONNECT_TIMEOUT_S = 10.0


class EligibilityLookup(Protocol):
    async def find(self, id_number: str, on: date) -> EligibilityRow | None:
        """The person with the categories active on ``on`` and the span over which that
        answer holds; None when not registered."""

    async def close(self) -> None: ...


class CoreLookup:
    """The statement through SQLAlchemy Core on the service's engine (SQLite)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, id_number: str, on: date) -> EligibilityRow | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(ELIGIBILITY, {"id_number": id_number, "on": on})
            return eligibility_row(result.all(), on)

    async def close(self) -> None:
        return None


async def _keep_session(_connection: Any) -> None:
    """Pool reset hook: nothing to reset after a single read-only statement (asyncpg still
    rolls back a transaction left open, which this lookup never opens)."""


class AsyncpgLookup:
    """The statement on an asyncpg pool of its own, created at start-up without connecting
    (connections are opened on first use, so the service starts while PostgreSQL is down)."""

    def __init__(self, engine: AsyncEngine, url: str, *, pool_size: int = POOL_SIZE) -> None:
        compiled = ELIGIBILITY.compile(dialect=engine.dialect)
        order = tuple(compiled.positiontup or ())
        if sorted(order) != ["id_number", "on"]:  # pragma: no cover - a changed statement
            raise RuntimeError(f"unexpected parameters of the eligibility statement: {order}")
        self._sql = compiled.string
        self._on_first = order[0] == "on"
        # Every host of a multi-host URL and its options (shared.dburl).
        options = asyncpg_connect_kwargs(
            url, server_settings={"application_name": APPLICATION_NAME}
        )
        options.setdefault("timeout", CONNECT_TIMEOUT_S)
        self._options = options
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            min_size=0,
            max_size=self._pool_size,
            reset=_keep_session,
            **self._options,
        )

    async def find(self, id_number: str, on: date) -> EligibilityRow | None:
        pool = self._pool
        if pool is None:
            raise RuntimeError("the eligibility pool is not open")
        args = (on, id_number) if self._on_first else (id_number, on)
        try:
            rows = await pool.fetch(self._sql, *args)
        except Exception as exc:
            if database_unavailable(exc) and not isinstance(exc, DBAPIError):
                # Wrapped as SQLAlchemy would wrap it: the outage handler answers a DBAPIError
                # inside the app (a clean 503), whereas an unwrapped driver error would only
                # reach the catch-all handler after the request log had answered a 500.
                raise OperationalError(self._sql, None, exc, connection_invalidated=True) from exc
            raise
        return eligibility_row(rows, on)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def open_lookup(engine: AsyncEngine, url: str) -> EligibilityLookup:
    """The lookup for the engine's backend: asyncpg on PostgreSQL (connecting as ``url``, the
    engine's URL as the operator wrote it), Core otherwise."""
    if engine.dialect.driver == "asyncpg":
        lookup = AsyncpgLookup(engine, url)
        await lookup.open()
        return lookup
    return CoreLookup(engine)
