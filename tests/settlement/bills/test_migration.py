"""Migration 0010 on a database holding bills at 0009: every bill, fund row and constraint
survives the move into monthly partitions, and the downgrade puts them back in one table."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from settlement.cli import MIGRATIONS
from settlement.database import Database
from shared.db import run_migrations
from tests.settlement.books.test_migration import _legacy_bills

pytestmark = pytest.mark.postgres

# Two more bills of S-KEPT's shape on either side of a new year: (admitted, settled).
MORE = {
    "S-DEC": (date(2025, 12, 21), date(2025, 12, 31)),
    "S-JAN": (date(2026, 1, 1), date(2026, 1, 1)),
}
CONSTRAINTS = (
    "SELECT conrelid::regclass::text, conname FROM pg_constraint "
    "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'bills_2%' "
    "AND conrelid::regclass::text <> 'bills_default' "
    "UNION SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public' "
    "AND tablename NOT LIKE 'bills_2%' AND tablename <> 'bills_default'"
)


def downgrade(url: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.downgrade(cfg, revision)


async def snapshot(url: str) -> dict[str, Any]:
    """Every bill and fund row, the relkind of ``bills``, where each bill is stored."""
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.read() as conn:
            bills = (await conn.execute(text("SELECT * FROM bills ORDER BY setl_id"))).all()
            funds = await conn.execute(text("SELECT * FROM bill_funds ORDER BY setl_id, seq"))
            kind = await conn.execute(
                text("SELECT relkind::text FROM pg_class WHERE relname = 'bills'")
            )
            where = await conn.execute(
                text("SELECT setl_id, tableoid::regclass::text AS part FROM bills")
            )
            constraints = await conn.execute(text(CONSTRAINTS))
            return {
                "bills": [row._asdict() for row in bills],
                "funds": [row._asdict() for row in funds.all()],
                "kind": kind.scalar_one(),
                "where": dict(where.all()),
                "constraints": set(map(tuple, constraints.all())),
            }
    finally:
        await db.dispose()


async def more_bills(url: str) -> None:
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.write() as conn:
            await conn.execute(
                text("CREATE TEMP TABLE more ON COMMIT DROP AS SELECT * FROM bills WHERE false")
            )
            for setl_id, (admitted, day) in MORE.items():
                await conn.execute(
                    text("INSERT INTO more SELECT * FROM bills WHERE setl_id = 'S-KEPT'")
                )
                await conn.execute(
                    text(
                        "UPDATE more SET setl_id = :s, idempotency_key = :s, visit_id = :s, "
                        "setl_date = :d, admitted_on = :a, discharged_on = :d "
                        "WHERE setl_id = 'S-KEPT'"
                    ),
                    {"s": setl_id, "d": day, "a": admitted},
                )
            await conn.execute(text("INSERT INTO bills SELECT * FROM more"))
            await conn.execute(
                text(
                    "INSERT INTO bill_funds SELECT m.setl_id, f.seq, f.fund_pay_type, "
                    "f.fund_pay_type_name, f.setlinfo_field, f.inscp_scp_amt, "
                    "f.crt_payb_lmt_amt, f.fund_payamt, f.setl_proc_info "
                    "FROM more m, bill_funds f WHERE f.setl_id = 'S-KEPT'"
                )
            )
    finally:
        await db.dispose()


async def refused(url: str, statements: list[str]) -> list[bool]:
    """For each statement (in a transaction of its own, rolled back): refused by a constraint
    (``IntegrityError``) or, for an ``INSERT … RETURNING``, skipped (no row back)."""
    db = Database.from_url(url, pool_size=1)
    out = []
    try:
        for statement in statements:
            try:
                async with db.write() as conn:
                    rows = (await conn.execute(text(statement))).all()
                    raise RuntimeError(rows)
            except IntegrityError:
                out.append(True)
            except RuntimeError as done:
                out.append(done.args[0] == [])
    finally:
        await db.dispose()
    return out


def test_bills_survive_the_move_into_partitions_and_back(
    database_factory: Callable[[str, str], str],
) -> None:
    url = database_factory("postgres", "partition_migration")
    run_migrations(MIGRATIONS, url, "0002")

    async def legacy() -> None:
        db = Database.from_url(url, pool_size=1)
        try:
            await _legacy_bills(db, "postgres")
        finally:
            await db.dispose()

    asyncio.run(legacy())
    run_migrations(MIGRATIONS, url, "0009")  # 0003 books S-GONE's reversal on 2026-03-13
    asyncio.run(more_bills(url))
    before = asyncio.run(snapshot(url))
    assert len(before["bills"]) == 5
    assert len(before["funds"]) == 10
    assert before["kind"] == "r"

    run_migrations(MIGRATIONS, url, "0010")
    after = asyncio.run(snapshot(url))
    assert after["kind"] == "p"
    assert after["bills"] == before["bills"]
    assert after["funds"] == before["funds"]
    reversal = next(b["setl_id"] for b in before["bills"] if b["refd_setl_flag"] == 1)
    assert after["where"] == {
        "S-DEC": "bills_2025_12",
        "S-JAN": "bills_2026_01",
        "S-KEPT": "bills_2026_03",
        "S-GONE": "bills_2026_03",
        reversal: "bills_2026_03",
    }
    moved = {
        ("bill_keys", name)
        for name in (
            "uq_bills_idempotency",
            "uq_bills_settled_visit",
            "uq_bills_init_setl_id",
            "ex_bills_inpatient_stay",
        )
    }
    assert moved <= after["constraints"]
    assert {("bills", "ix_bills_idempotency"), ("bills", "pk_bills")} <= after["constraints"]
    assert not {("bills", name) for _, name in moved} & after["constraints"]
    results = asyncio.run(
        refused(
            url,
            [
                # A bill with S-KEPT's idempotency key (skipped), one of another visit whose
                # stay overlaps S-DEC's (skipped), a second reversal of S-GONE (raises), a
                # fund row of no bill (raises).
                _copy_of("S-KEPT", setl_id="S-NEW", visit_id="V-NEW"),
                _copy_of("S-DEC", setl_id="S-NEW", visit_id="V-NEW", idempotency_key="k-new"),
                _copy_of(reversal, setl_id="R-NEW", idempotency_key="k-new"),
                "INSERT INTO bill_funds (setl_id, seq, fund_pay_type, fund_pay_type_name, "
                "setlinfo_field, fund_payamt, setl_proc_info) "
                "VALUES ('S-NONE', 1, '390100', 'f', 'hifp_pay', 1, 'x') RETURNING setl_id",
            ],
        )
    )
    assert results == [True, True, True, True]

    downgrade(url, "0009")
    back = asyncio.run(snapshot(url))
    assert back["kind"] == "r"
    assert back["bills"] == before["bills"]
    assert back["funds"] == before["funds"]
    assert back["constraints"] == before["constraints"]
    run_migrations(MIGRATIONS, url)  # and up again
    assert asyncio.run(snapshot(url))["bills"] == before["bills"]


def _copy_of(source: str, **changes: str) -> str:
    """``INSERT`` of a copy of a stored bill with some columns changed, ``RETURNING
    setl_id``."""
    pairs = ", ".join(f"'{name}', '{value}'" for name, value in changes.items())
    return (
        "INSERT INTO bills SELECT * FROM json_populate_record(NULL::bills, (SELECT "
        f"(to_jsonb(b) || jsonb_build_object({pairs}))::json FROM bills b "
        f"WHERE setl_id = '{source}')) RETURNING setl_id"
    )
