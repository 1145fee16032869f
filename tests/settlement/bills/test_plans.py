"""The settle's reads of a person's history touch that person's bills and the visit's, not the
table: on PostgreSQL with analysed statistics, among thousands of other people's bills, the
stay check and the supervision rules' history read filter out (almost) no rows.

A plan that scans every settled bill (an ``OR`` across two indexes, or an index on the
status column) passes every functional test and costs a settle time in proportion to the
table; this test is what notices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import asyncpg
import pytest
from sqlalchemy.dialects import postgresql

from settlement.bills.repository import _STAY
from settlement.supervision.repository import _PERSON_BILLS
from shared.db import _Compiled
from tests.settlement.conftest import bill_body, make_id_number, migrate, start_service, unique

OTHERS = 4000
"""Bills of other people put around the patient's."""


@pytest.fixture(scope="module")
async def loaded(database_factory: Callable[[str, str], str]) -> Any:
    """A database with one patient's settled bill and ``OTHERS`` bills of other people."""
    url = await asyncio.to_thread(database_factory, "postgres", "plans")
    await asyncio.to_thread(migrate, url)
    service, lifespan = await start_service(url, "postgres")
    try:
        hospital = await service.hospital()
        person = make_id_number()
        body = bill_body(person, visit_id=unique("ZY"))
        answer = await service.client.post(
            "/v1/settlements", json=body, headers=hospital.headers(unique("K"))
        )
        assert answer.status_code == 201, answer.text
        setl_id = answer.json()["setl_id"]
    finally:
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)
    conn = await asyncpg.connect(url)
    try:
        columns = [
            r["attname"]
            for r in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'bills'::regclass"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        ]
        varied = {
            "setl_id": "'P' || lpad(g::text, 12, '0')",
            "idempotency_key": "'plan-' || g",
            "visit_id": "'V' || g",
            "id_number": "lpad(g::text, 18, '0')",
        }
        chosen = ", ".join(varied.get(c, c) for c in columns)
        await conn.execute(
            f"INSERT INTO bills ({', '.join(columns)}) SELECT {chosen}"
            f" FROM bills, generate_series(1, {OTHERS}) AS g WHERE setl_id = $1",
            setl_id,
        )
        await conn.execute("ANALYZE bills")
        template = await conn.fetchrow("SELECT * FROM bills WHERE setl_id = $1", setl_id)
        yield conn, template
    finally:
        await conn.close()


async def _filtered(conn: asyncpg.Connection, stmt: Any, params: dict[str, Any]) -> int:
    """Rows the executed plan read and threw away (``Rows Removed by Filter``, all nodes),
    the most of a custom plan (the first executions of a prepared statement) and the generic
    plan (what a prepared statement settles on after five)."""
    compiled = _Compiled(stmt, postgresql.asyncpg.dialect(), ())
    sql, args = compiled.render(params)

    def removed(node: dict[str, Any]) -> int:
        own = int(node.get("Rows Removed by Filter", 0))
        return own + sum(removed(child) for child in node.get("Plans", []))

    worst = 0
    for mode in ("force_custom_plan", "force_generic_plan"):
        await conn.execute(f"SET plan_cache_mode = {mode}")
        plan = json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args))
        worst = max(worst, removed(plan[0]["Plan"]))
    await conn.execute("RESET plan_cache_mode")
    return worst


async def test_the_stay_check_reads_the_person_and_the_visit_only(loaded: Any) -> None:
    conn, bill = loaded
    params = {
        "person": bill["id_number"],
        "hospital": bill["hospital_id"],
        "visit": bill["visit_id"],
        "since": bill["admitted_on"],
        "until": date(bill["discharged_on"].year, 12, 31),
        "check_overlap": True,
    }
    assert await _filtered(conn, _STAY, params) <= 5


async def test_the_rules_history_reads_the_person_only(loaded: Any) -> None:
    conn, bill = loaded
    params = {
        "person": bill["id_number"],
        "since": date(bill["admitted_on"].year, 1, 1),
        "until": date(bill["admitted_on"].year, 12, 31),
        "setl": "none",
        "visit_type": bill["visit_type"],
        "diagnosis": "%",
    }
    assert await _filtered(conn, _PERSON_BILLS, params) <= 5
