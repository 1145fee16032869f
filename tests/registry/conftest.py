"""Registry fixtures: a migrated database per backend (``sqlite``, ``postgres``), migrated
once per session and emptied before each test, and an in-process API client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.config import Settings
from registry.database import migrate
from registry.models import metadata, registry_lock
from shared.db import make_engine
from tests.conftest import DatabaseFactory
from tests.registry.helpers import registry_client, registry_settings


@pytest.fixture(scope="session", params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def registry_database_url(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> str:
    url = database_factory(request.param, "registry")
    migrate(url)
    return url


@pytest.fixture(scope="session")
async def registry_engine(registry_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(registry_database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def registry_db(registry_database_url: str, registry_engine: AsyncEngine) -> str:
    """The backend's migrated database, with every table empty."""
    async with registry_engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table is not registry_lock:
                await connection.execute(delete(table))
    return registry_database_url


@pytest.fixture
def settings(registry_db: str) -> Settings:
    return registry_settings(registry_db)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with registry_client(settings) as api:
        yield api


@pytest.fixture
def count_rows(registry_engine: AsyncEngine):  # type: ignore[no-untyped-def]
    """``await count_rows()`` → {table: rows} for every registry table."""

    async def count() -> dict[str, int]:
        async with registry_engine.connect() as connection:
            return {
                table.name: (
                    await connection.execute(select(func.count()).select_from(table))
                ).scalar_one()
                for table in metadata.sorted_tables
                if table is not registry_lock
            }

    return count
