"""The fund report over a year of 1,000,000 bills on PostgreSQL.

A fresh database gets 50 hospitals in 5 regions and 1,000,000 bills spread over 2025 (about
3% revoked, with their reversals) and their fund rows: 20,000 made in Python (COPY), copied
in SQL to the count (``INSERT … SELECT`` over ``generate_series``), then VACUUM ANALYZE, as a
database in service would be after autovacuum.
``GET /v1/reports/funds?from=2025-01-01&to=2025-12-31&group_by=…`` runs in process (httpx
over ASGI) for every grouping; the best and median of a few runs are
printed, with the query plan of the bill aggregation.

    python -m bench.report_bench [--bills 1000000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import date, timedelta

import asyncpg
import httpx

from bench.admin_data import (
    ADMIN_TOKEN,
    add_hospitals,
    bill_records,
    copy_bills,
    replicate_bills,
    service_settings,
    settlement_database,
    vacuum_analyze,
)
from settlement.app import create_app

YEAR = 2025
GROUPINGS = ("hospital", "fund", "aid_class", "region", "day")
SEED_BILLS = 20_000
GOAL_S = 1.0
REGIONS = ("370302", "370303", "370304", "370305", "370306")


async def load(url: str, bills: int) -> None:
    hospitals = await add_hospitals(url, 50, REGIONS)
    days = [date(YEAR, 1, 1) + timedelta(days=d) for d in range(365)]
    started = time.perf_counter()
    made = min(bills, SEED_BILLS)
    copies = max(1, bills // made)
    await copy_bills(
        url,
        bill_records(made, hospitals=[(h, level) for h, level, _ in hospitals], days=days, seed=7),
    )
    await replicate_bills(url, copies)
    bills = made * copies
    loaded = time.perf_counter()
    await vacuum_analyze(url)
    print(
        f"  loaded {bills:,} bills in {loaded - started:.0f} s, "
        f"VACUUM ANALYZE {time.perf_counter() - loaded:.0f} s"
    )


async def plan(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT hospital_id, count(*), sum(medfee_sumamt), "
            "sum(fund_pay_sumamt) FROM bills WHERE status IN ('settled', 'revoked') AND setl_date "
            f"BETWEEN '{YEAR}-01-01' AND '{YEAR}-12-31' GROUP BY hospital_id"
        )
        for row in rows:
            print("    " + row[0])
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('bills'))")
        print(f"  bills table with indexes and TOAST: {size}")
    finally:
        await conn.close()


async def measure(url: str, runs: int) -> dict[str, float]:
    app = create_app(service_settings(url))
    best: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as client:
            for group_by in GROUPINGS:
                for accept in ("application/json", "text/csv"):
                    times = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        response = await client.get(
                            "/v1/reports/funds",
                            params={
                                "from": f"{YEAR}-01-01",
                                "to": f"{YEAR}-12-31",
                                "group_by": group_by,
                            },
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": accept},
                        )
                        times.append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text[:500]
                    label = f"{group_by} ({'CSV' if accept == 'text/csv' else 'JSON'})"
                    if accept == "application/json":
                        best[group_by] = min(times)
                        total = response.json()["total"]
                        print(
                            f"  {label:22s} best {min(times):.2f} s, median "
                            f"{statistics.median(times):.2f} s; {total['bill_count']:,} bills"
                        )
                    else:
                        print(f"  {label:22s} best {min(times):.2f} s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--url", help="reuse a database loaded by an earlier --keep run")
    args = parser.parse_args()
    print(f"fund report over {args.bills:,} bills of {YEAR} (PostgreSQL)", flush=True)
    with settlement_database("report", args.url, keep=args.keep) as (url, fresh):
        if fresh:
            asyncio.run(load(url, args.bills))
        asyncio.run(plan(url))
        best = asyncio.run(measure(url, args.runs))
    slowest = max(best, key=lambda g: best[g])
    print(
        f"RESULT report over a year: {best[slowest]:.2f} s slowest ({slowest}; goal "
        f"{GOAL_S:g} s); " + ", ".join(f"{g} {s:.2f} s" for g, s in best.items())
    )


if __name__ == "__main__":
    main()
