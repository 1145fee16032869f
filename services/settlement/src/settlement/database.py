"""The settlement database: table base class, column types, JSON helpers.

Statements are SQLAlchemy Core, run through :class:`shared.db.Database` (compiled once for
asyncpg on PostgreSQL, through the engine on SQLite). Every settle and revoke is one
transaction; on PostgreSQL concurrent bills for one person queue on a row lock (``SELECT …
FOR UPDATE`` on the person's running-total row), on SQLite on the process's write lock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeAlias, cast

from sqlalchemy import BigInteger, Numeric, Row, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import SQLModel

from shared.db import Conn as Conn  # re-exported for the repositories
from shared.db import Database as Database
from shared.db import UtcDateTime as UtcDateTime  # re-exported for the models
from shared.db import new_metadata
from shared.money import FEN


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """Base of the settlement service's tables (its own MetaData, never mixed with the
    registry's)."""


metadata = Base.metadata

AnyRow: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any shape (Core queries)."""


def table_of(model: type[SQLModel] | Table) -> Table:
    """The Core ``Table`` of a SQLModel table class (or the table itself)."""
    if isinstance(model, Table):
        return model
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
