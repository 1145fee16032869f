"""The monthly partitions of ``bills`` on PostgreSQL (migration 0010; SQLite has none).

A month's partition is ``bills_YYYY_MM`` and holds the rows whose ``setl_date`` (the local
date of the settlement or reversal) falls in that month; a row of a month without a partition
lands in the DEFAULT partition ``bills_default``. :func:`ensure_months` creates the months
from the current one through ``ahead`` months later, and the month of every row found in
``bills_default`` (its rows move into it). ``medaid-settlement migrate`` runs it, the service
runs it at start-up and then every :data:`CHECK_EVERY_S` seconds, so ``bills_default`` stays
empty; it is the safety net for a date no one created a month for.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timezone

from sqlalchemy import text

from settlement.database import Conn, Database

MONTHS_AHEAD = 3
"""Months created past the current one."""
CHECK_EVERY_S = 6 * 3600.0
"""How often a running service checks that the coming months exist."""
DEFAULT_PARTITION = "bills_default"

log = logging.getLogger("settlement.partitions")

_PARTITIONED = text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('bills')")
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('medaid: bills partitions'))")
_LOCK_TIMEOUT = text("SET LOCAL lock_timeout = '2s'")
_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'bills'::regclass"
)
_DEFAULT_MONTHS = text(
    f"SELECT DISTINCT date_trunc('month', setl_date)::date FROM {DEFAULT_PARTITION}"
)
_LOCK_DEFAULT = text(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")


def partition_name(month: date) -> str:
    """``bills_2026_01`` for any day of January 2026."""
    return f"bills_{month:%Y_%m}"


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months_from(day: date, ahead: int) -> list[date]:
    """First days of ``day``'s month and the ``ahead`` months after it."""
    months = [day.replace(day=1)]
    for _ in range(ahead):
        months.append(next_month(months[-1]))
    return months


async def ensure_months(db: Database, today: date, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the missing partitions of ``today``'s month through ``ahead`` months later and
    of every month with rows in ``bills_default`` (moved into their month), in one transaction
    (an advisory lock keeps two processes from doing it at once; a lock wait over 2 s fails
    it with ``DBAPIError``, to be tried again later). Returns the partitions created, oldest
    first; nothing on SQLite or an unpartitioned ``bills``."""
    if db.sqlite:
        return []
    async with db.write() as conn:
        if not (await conn.execute(_PARTITIONED)).scalar():
            return []
        await conn.execute(_LOCK)
        await conn.execute(_LOCK_TIMEOUT)
        existing = set((await conn.execute(_PARTITIONS)).scalars())
        stray = set((await conn.execute(_DEFAULT_MONTHS)).scalars())
        missing = sorted(
            m for m in stray | set(months_from(today, ahead)) if partition_name(m) not in existing
        )
        if missing:
            # ATTACH would take this lock too; taken first, no row can land in the DEFAULT
            # partition between the move and the attach.
            await conn.execute(_LOCK_DEFAULT)
        for month in missing:
            await _create(conn, month)
    if missing:
        log.info("bills partitions created: %s", ", ".join(map(partition_name, missing)))
    return [partition_name(m) for m in missing]


async def _create(conn: Conn, month: date) -> None:
    """The month's table (the columns and checks of ``bills``), the month's rows moved in from
    ``bills_default``, then attached: indexes and triggers follow from ``bills``. ``ATTACH``
    locks ``bills`` only against other schema changes; the DEFAULT partition is locked for the
    moment it takes (statements that read every partition wait that long)."""
    name, until = partition_name(month), next_month(month)
    await conn.execute(
        text(f"CREATE TABLE {name} (LIKE bills INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    )
    await conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE setl_date >= :since "
            f"AND setl_date < :until RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        {"since": month, "until": until},
    )
    await conn.execute(
        text(
            f"ALTER TABLE bills ATTACH PARTITION {name} FOR VALUES FROM ('{month}') TO ('{until}')"
        )
    )


async def keep(db: Database, tz: timezone, every_s: float = CHECK_EVERY_S) -> None:
    """Run :func:`ensure_months` for the local ``today`` now and every ``every_s`` seconds
    until cancelled; a failure is logged and tried again at the next round (meanwhile a bill of
    a month without a partition lands in ``bills_default``)."""
    while True:
        try:
            await ensure_months(db, datetime.now(tz).date())
        except Exception:
            log.exception("creating the coming months' bills partitions failed")
        await asyncio.sleep(every_s)
