"""Fund rows carry their bill's ``setl_date`` and ``refd_setl_flag`` (migration 0012): filled
from ``bills`` on a populated database and gone again on the downgrade; written by the settle
and the revoke; following a bill whose date is changed by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, text

from settlement.cli import MIGRATIONS
from settlement.database import Database
from shared.db import run_migrations
from tests.settlement.admin.conftest import Service
from tests.settlement.bills.test_migration import downgrade
from tests.settlement.books.test_migration import BACKENDS, _legacy_bills

CARRIED = ("setl_date", "refd_setl_flag")
MISMATCHED = (
    "SELECT f.setl_id, f.seq FROM bill_funds f JOIN bills b ON b.setl_id = f.setl_id "
    "WHERE f.setl_date <> b.setl_date OR f.refd_setl_flag <> b.refd_setl_flag "
    "OR f.setl_date IS NULL OR f.refd_setl_flag IS NULL"
)


async def _read(url: str, *statements: str) -> list[list[dict[str, Any]]]:
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.read() as conn:
            return [[r._asdict() for r in (await conn.execute(text(s))).all()] for s in statements]
    finally:
        await db.dispose()


async def _layout(url: str) -> dict[str, Any]:
    """``bill_funds``' columns (name → nullable) and indexes, and the triggers named
    ``bill_funds_follow``."""
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:

            def inspect_it(sync: Any) -> dict[str, Any]:
                found = inspect(sync)
                return {
                    "columns": {c["name"]: c["nullable"] for c in found.get_columns("bill_funds")},
                    "indexes": {i["name"] for i in found.get_indexes("bill_funds")},
                }

            out = await conn.run_sync(inspect_it)
            triggers = (
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                if db.sqlite
                else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            )
            names = (await conn.execute(text(triggers))).scalars()
            out["follow"] = "bill_funds_follow" in set(names)
            return out
    finally:
        await db.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_populated_database_gets_dated_fund_rows_and_back(
    backend: str, database_factory: Callable[[str, str], str]
) -> None:
    url = database_factory(backend, "fund_rows_migration")
    run_migrations(MIGRATIONS, url, "0002")

    async def legacy() -> None:
        db = Database.from_url(url, pool_size=1)
        try:
            await _legacy_bills(db, backend)
        finally:
            await db.dispose()

    asyncio.run(legacy())
    run_migrations(MIGRATIONS, url, "0011")  # 0003 books S-GONE's reversal on 2026-03-13
    funds = "SELECT * FROM bill_funds ORDER BY setl_id, seq"
    (before,) = asyncio.run(_read(url, funds))
    assert len(before) == 6
    assert not set(CARRIED) & set(before[0])

    run_migrations(MIGRATIONS, url, "0012")
    after, mismatched = asyncio.run(_read(url, funds, MISMATCHED))
    assert mismatched == []
    assert [{k: v for k, v in r.items() if k not in CARRIED} for r in after] == before
    dated = {(r["setl_id"], str(r["setl_date"]), r["refd_setl_flag"]) for r in after}
    reversal = next(r["setl_id"] for r in after if r["setl_id"].startswith("R"))
    assert dated == {
        ("S-GONE", "2026-03-12", 0),
        ("S-KEPT", "2026-03-12", 0),
        (reversal, "2026-03-13", 1),
    }
    layout = asyncio.run(_layout(url))
    assert {name: layout["columns"][name] for name in CARRIED} == dict.fromkeys(CARRIED, False)
    assert "ix_bill_funds_date_fund" in layout["indexes"]
    assert layout["follow"]

    downgrade(url, "0011")
    (back,) = asyncio.run(_read(url, funds))
    assert back == before
    layout = asyncio.run(_layout(url))
    assert not set(CARRIED) & set(layout["columns"])
    assert "ix_bill_funds_date_fund" not in layout["indexes"]
    assert not layout["follow"]

    run_migrations(MIGRATIONS, url)  # and up again
    again, mismatched = asyncio.run(_read(url, funds, MISMATCHED))
    assert again == after
    assert mismatched == []


async def _dates(db: Database, setl_id: str) -> set[tuple[date, int]]:
    async with db.read() as conn:
        rows = await conn.execute(
            text("SELECT setl_date, refd_setl_flag FROM bill_funds WHERE setl_id = :s"),
            {"s": setl_id},
        )
        return {(d if isinstance(d, date) else date.fromisoformat(d), f) for d, f in rows.all()}


async def test_settle_and_revoke_date_the_fund_rows_and_a_moved_bill_moves_them(
    svc: Service,
) -> None:
    db = svc.app.state.ctx.db
    hospital = await svc.hospital()
    bill = await svc.settle(hospital, svc.patient("dibao"))
    day = date.fromisoformat(bill["setl_date"])
    assert len(bill["setldetail"]) > 1
    assert await _dates(db, bill["setl_id"]) == {(day, 0)}
    reversal = (await svc.revoke(hospital, bill["setl_id"]))["reversal"]
    assert await _dates(db, reversal["setl_id"]) == {(date.fromisoformat(reversal["setl_date"]), 1)}
    assert await _dates(db, bill["setl_id"]) == {(day, 0)}  # the revoke leaves them

    # By hand, into another month (on PostgreSQL another partition: bills_default) and back.
    moved_to = day.replace(day=1) - timedelta(days=400)
    for to in (moved_to, day):
        async with db.write() as conn:
            await conn.execute(
                text("UPDATE bills SET setl_date = :d WHERE setl_id = :s"),
                {"d": to, "s": bill["setl_id"]},
            )
        assert await _dates(db, bill["setl_id"]) == {(to, 0)}
    (mismatched,) = await _read(svc.url, MISMATCHED)
    assert mismatched == []
