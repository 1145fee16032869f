"""Eligibility lookups, the settlement service's hot read: one indexed statement per call.

Both backends run :data:`registry.persons.repository.ELIGIBILITY` (the one definition of the
rule) through :class:`shared.db.Database`: on PostgreSQL it is compiled once for asyncpg and
executed on a small asyncpg pool of its own (no ORM session, no transaction block, no
pre-ping, no reset query when the connection goes back); behind PgBouncer in transaction mode
the URL says ``statement_cache_size=0``; a multi-host URL connects to every host with its
``target_session_attrs``. On SQLite it runs through SQLAlchemy Core on the service's engine.

A connection the server dropped (a restart) is noticed by asyncpg and replaced on the next
checkout; a request caught on it fails with SQLAlchemy's ``OperationalError``, which the
outage handler answers with a 503 (``shared.outage``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from registry.persons.repository import ELIGIBILITY, EligibilityRow, eligibility_row
from shared.db import Database

POOL_SIZE = 10
APPLICATION_NAME = "medaid-registry eligibility"
"""``application_name`` of the lookup's connections, as ``pg_stat_activity`` shows them."""


class EligibilityLookup:
    """The person with the categories active on a date, and the span over which that answer
    holds; None when not registered."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, id_number: str, on: date) -> EligibilityRow | None:
        async with self._db.read() as conn:
            rows = (await conn.execute(ELIGIBILITY, {"id_number": id_number, "on": on})).all()
        return eligibility_row(rows, on)

    async def close(self) -> None:
        await self._db.dispose()


async def open_lookup(engine: AsyncEngine, url: str) -> EligibilityLookup:
    """The lookup on the service's engine (SQLite) or on an asyncpg pool of its own, opened on
    first use so the service starts while PostgreSQL is down (``url``: as the operator wrote
    it, for every host of a multi-host URL)."""
    return EligibilityLookup(
        Database(engine, url, pool_size=POOL_SIZE, application_name=APPLICATION_NAME)
    )
