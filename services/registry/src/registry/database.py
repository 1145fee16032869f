"""The registry database: table base class, column types, migrations and write serialisation."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime as UtcDateTime  # re-exported for the models
from shared.db import new_metadata, run_migrations, session_scope

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(SQLModel, registry=registry(metadata=new_metadata())):
    """Base of the registry's tables (its own MetaData, never mixed with the settlement's)."""


metadata = Base.metadata


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` of a SQLModel table class, for set-based statements."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


transaction = asynccontextmanager(session_scope)
"""``async with transaction(sessionmaker) as session``: commit at the end, roll back on error."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def migrate(url: str, revision: str = "head") -> None:
    """Alembic upgrade of the registry's history (``medaid-registry migrate``, tests, dev)."""
    run_migrations(MIGRATIONS, url, revision)


async def serialize_writes(session: AsyncSession) -> None:
    """Take the registry's write lock for the rest of the transaction.

    Every write (import, status added, status ended) starts here, so its reads and checks see
    the latest committed state and no other write can slip in before it commits: on
    PostgreSQL the single ``registry_lock`` row is locked until commit; on SQLite the update
    takes the database's write lock (waiting up to the busy timeout).
    """
    await session.execute(text("UPDATE registry_lock SET id = id WHERE id = 1"))


class RegistryLock(Base, table=True):
    """One row (id 1), locked by every write transaction; see :func:`serialize_writes`."""

    __tablename__ = "registry_lock"

    id: int = Field(primary_key=True)
