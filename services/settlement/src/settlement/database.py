"""The settlement database: table base class, column types and write transactions.

Every settle and revoke is one transaction. On PostgreSQL concurrent bills for one person queue
on a row lock (``SELECT … FOR UPDATE`` on the person's running-total row); SQLite has no row
locks, so :class:`Database` serialises write transactions in the process (and takes SQLite's
write lock at ``BEGIN IMMEDIATE`` so another process cannot slip in between a read and a write).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeAlias, cast

from sqlalchemy import BigInteger, Numeric, Row, Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import SQLModel

from shared.db import UtcDateTime as UtcDateTime  # re-exported for the models
from shared.db import is_sqlite, make_engine, new_metadata
from shared.money import FEN


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """Base of the settlement service's tables (its own MetaData, never mixed with the
    registry's)."""


metadata = Base.metadata

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any shape (Core queries)."""


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` of a SQLModel table class (for Core statements on the hot path)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


class MoneyType(TypeDecorator[Decimal]):
    """An amount in yuan to the fen: ``NUMERIC(14, 2)`` on PostgreSQL; on SQLite, which has no
    exact decimal type, an integer number of fen. Python code always sees ``Decimal``, and
    ``SUM()`` through SQLAlchemy comes back in yuan on both."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(FEN)
        if dialect.name == "sqlite":
            return int(value * 100)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(FEN)
        return Decimal(value).quantize(FEN)


def utcnow() -> datetime:
    return datetime.now(UTC)


def dump_json(value: Any) -> str:
    """Compact, key-sorted JSON; ``Decimal`` as a string (exact)."""
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json_default
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dump_totals(totals: Mapping[str, Decimal]) -> str:
    """Running totals as JSON text of exact decimal strings."""
    return json.dumps({k: str(v) for k, v in sorted(totals.items())}, separators=(",", ":"))


def load_totals(raw: str | None) -> dict[str, Decimal]:
    if not raw:
        return {}
    data = json.loads(raw)
    return {str(k): Decimal(str(v)) for k, v in data.items()}


class Database:
    """The engine plus the write discipline of the backend in use."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine.url)
        self._write_lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10) -> Database:
        return cls(make_engine(url, pool_size=pool_size))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (its implicit transaction is rolled back at the end)."""
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        if not self.sqlite:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execute(text("BEGIN IMMEDIATE"))
            try:
                yield conn
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
