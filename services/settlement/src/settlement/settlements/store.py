"""Where a settle or revoke transaction is written: one interface, two back-ends.

:mod:`settlement.settlements.service` decides *what* a settle or revoke writes (the bill row,
its fund rows, the moved running totals, the audit record, the grant uses) and the rules
around it; a :class:`Store` only runs those writes inside one transaction:

* :class:`PgStore` — PostgreSQL, on the driver (an ``asyncpg`` pool of its own): explicit SQL
  prepared once per connection (asyncpg caches prepared statements), so a settle is four round
  trips: ``BEGIN``, lock-or-create the person-year row (reading the visit's admission record
  and whether the person holds an open grant in the same statement), one statement writing
  the bill, its fund rows, the running totals and the audit record, ``COMMIT``.
* :class:`SqlStore` — any SQLAlchemy backend (SQLite), with the Core statements of the
  repositories, inside :meth:`Database.write`.

A dropped connection or a restarting server surfaces as the driver's own exception (the
outage handler answers 503); asyncpg's pool replaces a connection that broke.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.accumulators import repository as accumulators
from settlement.accumulators.repository import AdmissionFacts
from settlement.audit.repository import append_row
from settlement.database import Database, dump_totals, load_totals, table_of, utcnow
from settlement.grants import repository as grants
from settlement.settlements import repository
from settlement.settlements.models import BillFundRow, BillRow
from shared.db import async_url
from shared.dburl import asyncpg_connect_kwargs

FUND_FIELDS = (
    "seq",
    "fund_pay_type",
    "fund_pay_type_name",
    "setlinfo_field",
    "inscp_scp_amt",
    "crt_payb_lmt_amt",
    "fund_payamt",
    "setl_proc_info",
)
"""The columns of a fund row besides ``setl_id``, in the order the service builds them."""


class Tx(Protocol):
    """The statements of a settle or revoke, inside one open transaction."""

    async def lock_for_settle(
        self, id_number: str, year: int, *, grants_on: date, hospital_id: int, visit_id: str
    ) -> tuple[dict[str, Decimal], bool, AdmissionFacts | None]:
        """Lock (creating it if needed) the person-year row: its totals, whether the person
        holds a grant with a balance on ``grants_on``, the visit's admission record."""

    async def lock_open_grants(self, id_number: str, on: date) -> list[tuple[int, Decimal]]:
        """Open grants valid on ``on``, oldest first, locked."""

    async def write_settlement(
        self,
        bill: dict[str, Any],
        funds: Sequence[dict[str, Any]],
        *,
        totals: dict[str, Decimal],
        audit: dict[str, Any],
        uses: Sequence[tuple[int, Decimal]],
    ) -> bool:
        """The bill, its fund rows, the new totals (one more bill), the audit record and the
        grant draws; ``False`` (nothing written) when the idempotency key or a settled bill of
        the visit is already there."""

    async def bill(self, setl_id: str, hospital_id: int, *, for_update: bool = False) -> Any:
        """The bill row of a hospital (attribute access by column name), or ``None``."""

    async def funds(self, setl_id: str) -> list[Any]:
        """The bill's fund rows in order."""

    async def lock_totals(self, id_number: str, year: int) -> dict[str, Decimal]:
        """Lock (creating it if needed) the person-year row and return its totals."""

    async def write_revocation(
        self,
        setl_id: str,
        at: datetime,
        *,
        id_number: str,
        year: int,
        totals: dict[str, Decimal],
    ) -> list[tuple[int, Decimal]]:
        """Mark the bill revoked, store the totals (one bill fewer) and give back what the bill
        drew from grants: ``[(grant_id, amount)]``."""

    async def append_audit(self, row: dict[str, Any]) -> None:
        """Append a record made by :func:`settlement.audit.repository.audit_row`."""


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction: committed when the block ends, rolled back on any error."""

    async def close(self) -> None: ...


# ----------------------------------------------------------------------------- SQLAlchemy


class SqlStore:
    """Core statements through :class:`Database` (SQLite; usable on any backend)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._db.write() as conn:
            yield SqlTx(conn)

    async def close(self) -> None:
        return None


class SqlTx:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def lock_for_settle(
        self, id_number: str, year: int, *, grants_on: date, hospital_id: int, visit_id: str
    ) -> tuple[dict[str, Decimal], bool, AdmissionFacts | None]:
        return await accumulators.lock_for_settle(
            self._conn,
            id_number,
            year,
            grants_on=grants_on,
            hospital_id=hospital_id,
            visit_id=visit_id,
        )

    async def lock_open_grants(self, id_number: str, on: date) -> list[tuple[int, Decimal]]:
        return await grants.lock_open(self._conn, id_number, on)

    async def write_settlement(
        self,
        bill: dict[str, Any],
        funds: Sequence[dict[str, Any]],
        *,
        totals: dict[str, Decimal],
        audit: dict[str, Any],
        uses: Sequence[tuple[int, Decimal]],
    ) -> bool:
        conn = self._conn
        if not await repository.insert_bill(conn, bill):
            return False
        setl_id = bill["setl_id"]
        await repository.insert_funds(conn, [{"setl_id": setl_id, **row} for row in funds])
        await accumulators.store(conn, bill["id_number"], bill["acc_year"], totals, 1)
        await append_row(conn, audit)
        if uses:
            await grants.draw(conn, setl_id, uses)
        return True

    async def bill(self, setl_id: str, hospital_id: int, *, for_update: bool = False) -> Any:
        return await repository.get(self._conn, setl_id, hospital_id, for_update=for_update)

    async def funds(self, setl_id: str) -> list[Any]:
        return (await repository.funds_of(self._conn, [setl_id]))[setl_id]

    async def lock_totals(self, id_number: str, year: int) -> dict[str, Decimal]:
        totals, _ = await accumulators.lock(self._conn, id_number, year)
        return totals

    async def write_revocation(
        self,
        setl_id: str,
        at: datetime,
        *,
        id_number: str,
        year: int,
        totals: dict[str, Decimal],
    ) -> list[tuple[int, Decimal]]:
        await repository.mark_revoked(self._conn, setl_id, at)
        returned = await grants.give_back(self._conn, setl_id)
        await accumulators.store(self._conn, id_number, year, totals, -1)
        return returned

    async def append_audit(self, row: dict[str, Any]) -> None:
        await append_row(self._conn, row)


# ----------------------------------------------------------------------------- asyncpg

_BILL_COLUMNS = tuple(c.name for c in table_of(BillRow).columns)
_BILL_INDEX = {name: i for i, name in enumerate(_BILL_COLUMNS)}
_FUND_TYPES = {
    "seq": "int[]",
    "fund_pay_type": "text[]",
    "fund_pay_type_name": "text[]",
    "setlinfo_field": "text[]",
    "inscp_scp_amt": "numeric[]",
    "crt_payb_lmt_amt": "numeric[]",
    "fund_payamt": "numeric[]",
    "setl_proc_info": "text[]",
}
assert set(_FUND_TYPES) == set(FUND_FIELDS)
assert set(FUND_FIELDS) | {"setl_id"} == {c.name for c in table_of(BillFundRow).columns}


def _p(name: str) -> str:
    return f"${_BILL_INDEX[name] + 1}"


# Lock-or-create in one statement. The INSERT's new row is ours already (nobody else sees it
# before we commit); an existing row is locked by the SELECT. Both come back empty only when
# another transaction created the row after this statement's snapshot: run it again then.
_LOCK_FOR_SETTLE = """
WITH created AS (
    INSERT INTO accumulators (id_number, year, totals, bills, updated_at)
    VALUES ($1, $2, '{}', 0, $6)
    ON CONFLICT DO NOTHING
    RETURNING totals
), locked AS (
    SELECT totals FROM accumulators WHERE id_number = $1 AND year = $2 FOR UPDATE
)
SELECT
    coalesce((SELECT totals FROM created), (SELECT totals FROM locked)) AS totals,
    EXISTS (
        SELECT 1 FROM grants g
        WHERE g.id_number = $1 AND g.balance > 0 AND g.valid_from <= $3 AND g.valid_to >= $3
    ) AS has_grant,
    a.id_number, a.categories, a.registered, a.eligibility_on
FROM (SELECT 1) AS one
LEFT JOIN admissions a ON a.hospital_id = $4 AND a.visit_id = $5
"""

_LOCK_TOTALS = """
WITH created AS (
    INSERT INTO accumulators (id_number, year, totals, bills, updated_at)
    VALUES ($1, $2, '{}', 0, $3)
    ON CONFLICT DO NOTHING
    RETURNING totals
), locked AS (
    SELECT totals FROM accumulators WHERE id_number = $1 AND year = $2 FOR UPDATE
)
SELECT coalesce((SELECT totals FROM created), (SELECT totals FROM locked))
"""

_LOCK_OPEN_GRANTS = """
SELECT id, balance FROM grants
WHERE id_number = $1 AND balance > 0 AND valid_from <= $2 AND valid_to >= $2
ORDER BY valid_from, id
FOR UPDATE
"""

_N = len(_BILL_COLUMNS)
_F = {name: f"${_N + 1 + i}::{_FUND_TYPES[name]}" for i, name in enumerate(FUND_FIELDS)}
_T = _N + len(FUND_FIELDS)  # the totals, then the audit record's at, actor, request_id, detail

# The whole settle write in one statement (data-modifying CTEs). Only the bill's
# ``ON CONFLICT DO NOTHING`` decides: on a duplicate, no CTE writes a row.
_WRITE_SETTLEMENT = f"""
WITH new_bill AS (
    INSERT INTO bills ({", ".join(_BILL_COLUMNS)})
    VALUES ({", ".join(f"${i + 1}" for i in range(_N))})
    ON CONFLICT DO NOTHING
    RETURNING setl_id
), new_funds AS (
    INSERT INTO bill_funds (setl_id, {", ".join(FUND_FIELDS)})
    SELECT b.setl_id, f.*
    FROM new_bill b
    CROSS JOIN unnest({", ".join(_F[name] for name in FUND_FIELDS)}) AS f({", ".join(FUND_FIELDS)})
), moved AS (
    UPDATE accumulators SET totals = ${_T + 1}, bills = bills + 1, updated_at = ${_T + 2}
    WHERE id_number = {_p("id_number")} AND year = {_p("acc_year")}
      AND EXISTS (SELECT 1 FROM new_bill)
), audit AS (
    INSERT INTO audit_log (at, actor, action, subject, request_id, detail)
    SELECT ${_T + 2}, ${_T + 3}, 'settle', setl_id, ${_T + 4}, ${_T + 5} FROM new_bill
)
SELECT setl_id FROM new_bill
"""

_DRAW = """
WITH used AS (
    INSERT INTO grant_uses (setl_id, grant_id, amount)
    SELECT $1, u.grant_id, u.amount FROM unnest($2::int[], $3::numeric[]) AS u(grant_id, amount)
    RETURNING grant_id, amount
)
UPDATE grants g SET balance = g.balance - used.amount FROM used WHERE g.id = used.grant_id
"""

_BILL = "SELECT * FROM bills WHERE setl_id = $1 AND hospital_id = $2"
_BILL_FOR_UPDATE = _BILL + " FOR UPDATE"
_FUNDS = f"SELECT setl_id, {', '.join(FUND_FIELDS)} FROM bill_funds WHERE setl_id = $1 ORDER BY seq"
_REVOKE = """
WITH revoked AS (
    UPDATE bills SET status = 'revoked', revoked_at = $2 WHERE setl_id = $1
), moved AS (
    UPDATE accumulators SET totals = $5, bills = bills - 1, updated_at = $2
    WHERE id_number = $3 AND year = $4
), returned AS (
    UPDATE grants g SET balance = g.balance + u.amount
    FROM grant_uses u WHERE u.setl_id = $1 AND g.id = u.grant_id
    RETURNING u.grant_id, u.amount
)
SELECT grant_id, amount FROM returned ORDER BY grant_id
"""
_AUDIT = """
INSERT INTO audit_log (at, actor, action, subject, request_id, detail)
VALUES ($1, $2, $3, $4, $5, $6)
"""


class Record:
    """An asyncpg record read by attribute, like a SQLAlchemy row."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's default reset query (a round trip per release): this
    pool's transactions leave no session state behind (no ``SET``, ``LISTEN``, cursors or
    advisory locks), and the pool still rolls back a transaction left open."""


class PgStore:
    """PostgreSQL on asyncpg directly (the settle and revoke transactions)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, max_size: int) -> PgStore:
        """A pool that opens connections when they are needed (the service starts while the
        database is down) and drops those that broke."""
        pool = await asyncpg.create_pool(
            # Every host of a multi-host URL and its options (shared.dburl).
            **asyncpg_connect_kwargs(url),
            min_size=0,
            max_size=max_size,
            max_inactive_connection_lifetime=300,
            reset=_keep_session,
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield PgTx(conn)

    async def close(self) -> None:
        await self._pool.close()


class PgTx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def lock_for_settle(
        self, id_number: str, year: int, *, grants_on: date, hospital_id: int, visit_id: str
    ) -> tuple[dict[str, Decimal], bool, AdmissionFacts | None]:
        now = utcnow()
        for _ in range(3):
            row = await self._conn.fetchrow(
                _LOCK_FOR_SETTLE, id_number, year, grants_on, hospital_id, visit_id, now
            )
            assert row is not None
            if row[0] is not None:
                break
        else:  # pragma: no cover - the row exists once its creator committed
            raise RuntimeError("the running-total row could not be locked")
        admission = None
        if row[2] is not None:
            admission = AdmissionFacts(row[2], row[3], bool(row[4]), row[5])
        return load_totals(row[0]), bool(row[1]), admission

    async def lock_open_grants(self, id_number: str, on: date) -> list[tuple[int, Decimal]]:
        rows = await self._conn.fetch(_LOCK_OPEN_GRANTS, id_number, on)
        return [(int(r[0]), r[1]) for r in rows]

    async def write_settlement(
        self,
        bill: dict[str, Any],
        funds: Sequence[dict[str, Any]],
        *,
        totals: dict[str, Decimal],
        audit: dict[str, Any],
        uses: Sequence[tuple[int, Decimal]],
    ) -> bool:
        args = [bill[name] for name in _BILL_COLUMNS]
        args.extend([row[name] for row in funds] for name in FUND_FIELDS)
        args.extend(
            (dump_totals(totals), audit["at"], audit["actor"], audit["request_id"], audit["detail"])
        )
        written = await self._conn.fetchval(_WRITE_SETTLEMENT, *args)
        if written is None:
            return False
        if uses:
            await self._conn.execute(
                _DRAW, bill["setl_id"], [gid for gid, _ in uses], [amount for _, amount in uses]
            )
        return True

    async def bill(self, setl_id: str, hospital_id: int, *, for_update: bool = False) -> Any:
        row = await self._conn.fetchrow(
            _BILL_FOR_UPDATE if for_update else _BILL, setl_id, hospital_id
        )
        return None if row is None else Record(row)

    async def funds(self, setl_id: str) -> list[Any]:
        return [Record(r) for r in await self._conn.fetch(_FUNDS, setl_id)]

    async def lock_totals(self, id_number: str, year: int) -> dict[str, Decimal]:
        now = utcnow()
        for _ in range(3):
            raw = await self._conn.fetchval(_LOCK_TOTALS, id_number, year, now)
            if raw is not None:
                return load_totals(raw)
        raise RuntimeError("the running-total row could not be locked")  # pragma: no cover

    async def write_revocation(
        self,
        setl_id: str,
        at: datetime,
        *,
        id_number: str,
        year: int,
        totals: dict[str, Decimal],
    ) -> list[tuple[int, Decimal]]:
        rows = await self._conn.fetch(_REVOKE, setl_id, at, id_number, year, dump_totals(totals))
        return [(int(r[0]), r[1]) for r in rows]

    async def append_audit(self, row: dict[str, Any]) -> None:
        await self._conn.execute(
            _AUDIT,
            row["at"],
            row["actor"],
            row["action"],
            row["subject"],
            row["request_id"],
            row["detail"],
        )


async def open_store(db: Database, url: str, *, max_size: int) -> Store:
    """asyncpg for PostgreSQL, the SQLAlchemy engine otherwise."""
    if make_url(str(async_url(url))).get_backend_name() == "postgresql":
        return await PgStore.connect(url, max_size=max_size)
    return SqlStore(db)
