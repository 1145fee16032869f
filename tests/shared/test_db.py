import pytest
from sqlalchemy import text

from shared.db import async_url, is_sqlite, make_engine


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("sqlite:///./var/x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h:5432/d", "postgresql+asyncpg"),
        ("postgres://u@h/d", "postgresql+asyncpg"),
        ("postgresql+psycopg://u@h/d", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg"),
    ],
)
def test_async_url_picks_the_driver(plain: str, driver: str) -> None:
    assert async_url(plain).drivername == driver


def test_is_sqlite() -> None:
    assert is_sqlite("sqlite:///a.db")
    assert not is_sqlite("postgresql://h/d")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_engine_connects_with_plain_urls(database_factory, kind: str) -> None:
    engine = make_engine(database_factory(kind, "shared"))
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
