"""Secrets at rest: hospital API keys are stored only as hashes; no table of either service
holds an API key or a configured token in plain text."""

from __future__ import annotations

import sqlite3

import asyncpg

from shared.security import hash_secret
from tests.security.conftest import Service, Settlement
from tests.support.apps import (
    REGISTRY_ADMIN_TOKEN,
    REGISTRY_READ_TOKEN,
    SETTLEMENT_ADMIN_TOKEN,
    fill_path,
    iter_routes,
)


async def all_text(url: str) -> dict[str, list[str]]:
    """Every row of every table, as text, per table."""
    out: dict[str, list[str]] = {}
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                out[table] = [repr(row) for row in conn.execute(f'SELECT * FROM "{table}"')]
        finally:
            conn.close()
        return out
    pg = await asyncpg.connect(url)
    try:
        tables = await pg.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        for row in tables:
            name = row["table_name"]
            out[name] = [repr(tuple(r)) for r in await pg.fetch(f'SELECT * FROM "{name}"')]
    finally:
        await pg.close()
    return out


def leaks(tables: dict[str, list[str]], secrets: list[str]) -> list[str]:
    return [
        f"{table}: {secret[:6]}…"
        for table, rows in tables.items()
        for row in rows
        for secret in secrets
        if secret in row
    ]


async def test_api_keys_are_stored_as_hashes_only(settlement: Settlement) -> None:
    keys = list(settlement.keys.values())
    tables = await all_text(settlement.database_url)
    assert "hospitals" in tables
    hospitals = "\n".join(tables["hospitals"])
    for key in keys:
        assert key not in hospitals
        assert hash_secret(key) in hospitals
    assert not leaks(tables, [*keys, SETTLEMENT_ADMIN_TOKEN, REGISTRY_READ_TOKEN])


async def test_registry_keeps_no_token(registry: Service) -> None:
    tables = await all_text(registry.database_url)
    assert not leaks(tables, [REGISTRY_ADMIN_TOKEN, REGISTRY_READ_TOKEN])


async def test_api_key_is_shown_once(settlement: Settlement) -> None:
    """Hospital listings or detail answers never repeat a key after it was issued."""
    s = settlement
    for path, methods in iter_routes(s.app):
        if path.startswith("/v1/hospitals") and "GET" in methods:
            response = await s.client.get(
                fill_path(path), headers={"Authorization": f"Bearer {SETTLEMENT_ADMIN_TOKEN}"}
            )
            for key in s.keys.values():
                assert key not in response.text
