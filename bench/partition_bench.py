"""Bills partitioned by month: a day's reconciliation and a day's inserts, 1 vs 12 months of
older bills, on PostgreSQL.

Two fresh databases, migrated (``bills`` partitioned by month, migration 0010): one holds
``--per-month`` synthetic bills of one month (December 2025), the other the same month and the
eleven before it (January–December 2025), spread over ``--hospitals`` hospitals and every day
of each month (loaded with ``INSERT … SELECT generate_series``, the key rows of ``bill_keys``
alongside, then ``ANALYZE``). Then, alternating between the two databases so load from other
processes on the machine falls on both alike:

1. **A day's reconciliation**: the service's own statements (``reconciliation.repository``:
   the period's totals and the streamed records) for each hospital's 15 December; the median
   wall time per hospital-day over ``--rounds`` rounds;
2. **A day's inserts**: ``--inserts`` new bills of 16 December through the service's insert
   statement (``bills.repository.insert_bill``: the ``bill_keys`` trigger, every index), one
   transaction each as a settle writes them; bills per second.

Figures: each of them for 1 and 12 months and the ratio 12/1 (1.0: no growth), PostgreSQL's
own time for a hospital-day's totals (``EXPLAIN ANALYZE``: planning and execution, which load
on a shared machine blurs less than the client's wall time), and the ``EXPLAIN`` of the day's
totals on the 12-month database, which reads one partition.

Prints a summary and writes ``bench/results/partitions.json``; the databases are dropped.

    python -m bench.partition_bench [--per-month 50000] [--hospitals 20] [--rounds 5]
        [--inserts 2000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.admin_data import admin_dsn, create_database, drop_database
from settlement.bills import repository as bills_repository
from settlement.bills.partitions import ensure_months
from settlement.cli import MIGRATIONS
from settlement.database import Database
from settlement.reconciliation import repository as reconciliation
from shared.db import run_migrations

RESULTS = Path(__file__).resolve().parent / "results"
LAST_MONTH = date(2025, 12, 1)
DAY = date(2025, 12, 15)  # reconciled
NEW_DAY = date(2025, 12, 16)  # inserted into

# One month of synthetic bills: row g of the month is settled on day (g % days) + 1 at
# hospital (g % hospitals) + 1, each with its own patient (no two stays of one person overlap).
_LOAD = """
INSERT INTO {table} (setl_id, hospital_id, visit_id, visit_type, idempotency_key, request_hash,
    status, id_number, patient_name, admitted_on, discharged_on, acc_year, setl_time, setl_date,
    policy_version, hospital_level, aid_class, categories, registered, eligibility_on,
    eligibility_source, diagnoses, items, item_count, trace, deltas, medfee_sumamt,
    fulamt_ownpay_amt, overlmt_selfpay, preselfpay_amt, inscp_scp_amt, act_pay_dedc, hifp_pay,
    hifmi_pay, maf_pay, oth_pay, fund_pay_sumamt, psn_cash_pay, refd_setl_flag, interim)
SELECT p || g, (g % :hospitals) + 1, 'V' || p || g, 'inpatient', 'k' || p || g,
    md5(g::text), 'settled', lpad((:prefix_n * 10000000 + g)::text, 18, '0'), '张三',
    d - 5, d, 2025, (d + time '10:00') AT TIME ZONE 'UTC', d, '2020', 2, 'key', '["dibao"]',
    true, d, 'settlement', '["J18.900"]', CAST(:items AS text), 6, '[]', '{{}}',
    1000.00, 50.00, 0.00, 20.00, 930.00, 100.00, 560.00, 0.00, 240.00, 0.00, 800.00, 200.00,
    0, false
FROM generate_series(1, :count) AS g,
     LATERAL (SELECT CAST(:first AS date) + (g % :days) AS d, CAST(:prefix AS text) AS p) AS x
"""
_KEYS = """
INSERT INTO bill_keys SELECT setl_id, setl_date, hospital_id, idempotency_key, visit_id,
    visit_type, status, interim, id_number, admitted_on, discharged_on, init_setl_id
FROM bills WHERE setl_date >= :first AND setl_date < :until
"""
ITEMS = json.dumps(
    [
        {
            "code": f"{1101 + i}",
            "name": "床位费",
            "category": "A",
            "unit_price": "60.00",
            "quantity": 1,
        }
        for i in range(6)
    ],
    ensure_ascii=False,
)


def log(message: str) -> None:
    print(f"[partition-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _months(count: int) -> list[date]:
    months = [LAST_MONTH]
    while len(months) < count:
        previous = months[0] - timedelta(days=1)
        months.insert(0, previous.replace(day=1))
    return months


async def load(db: Database, months: list[date], per_month: int, hospitals: int) -> None:
    async with db.write() as conn:
        await conn.execute(
            text(
                "INSERT INTO hospitals (code, name, level, region_code, api_key_hash, "
                "created_at) SELECT 'H' || h, 'h', 2, '370305', md5(h::text), now() "
                "FROM generate_series(1, :n) AS h"
            ),
            {"n": hospitals},
        )
    await ensure_months(db, months[0], ahead=len(months))
    for n, first in enumerate(months, start=1):
        until = (first + timedelta(days=32)).replace(day=1)
        async with db.write() as conn:
            # Bulk load: the rows and their key rows in two statements, the row trigger off.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(
                text(_LOAD.format(table=f"bills_{first:%Y_%m}")),
                {
                    "prefix": f"S{first:%Y%m}-",
                    "prefix_n": n,
                    "hospitals": hospitals,
                    "items": ITEMS,
                    "count": per_month,
                    "first": first,
                    "days": (until - first).days,
                },
            )
            await conn.execute(text(_KEYS), {"first": first, "until": until})
        log(f"  {first:%Y-%m}: {per_month} bills")
    async with db.read() as conn:
        await conn.execute(text("ANALYZE"))


async def reconcile_day(db: Database, hospital_id: int) -> float:
    """Wall seconds of one hospital-day's reconciliation reads (totals, then the records)."""
    started = time.perf_counter()
    async with db.snapshot() as conn:
        await reconciliation.service_totals(
            conn, hospital_id, DAY, DAY, visit_type=None, include_revoked=False
        )
        async for _ in reconciliation.stream_bills(conn, hospital_id, DAY, DAY):
            pass
    return time.perf_counter() - started


_DAY_TOTALS = (
    "SELECT count(*), sum(medfee_sumamt), sum(fund_pay_sumamt), sum(psn_cash_pay) FROM bills "
    "WHERE hospital_id = :h AND setl_date >= :d AND setl_date <= :d"
)


async def server_ms(db: Database, hospital_id: int) -> float:
    """PostgreSQL's own time (planning + execution, ``EXPLAIN ANALYZE``) of a hospital-day's
    totals: the database's work, which the client's scheduling on a loaded machine does not
    blur."""
    async with db.read() as conn:
        result = await conn.execute(
            text(f"EXPLAIN (ANALYZE, FORMAT JSON) {_DAY_TOTALS}"), {"h": hospital_id, "d": DAY}
        )
        plan = json.loads(result.scalar_one())[0]
    return float(plan["Planning Time"] + plan["Execution Time"])


async def insert_day(db: Database, template: dict[str, Any], start: int, count: int) -> float:
    """Bills per second of ``count`` new bills of ``NEW_DAY``, one transaction each."""
    started = time.perf_counter()
    for i in range(start, start + count):
        values = {
            **template,
            "setl_id": f"N{i}",
            "idempotency_key": f"new-{i}",
            "visit_id": f"VN{i}",
            "id_number": f"{900000000000000000 + i}",
            "setl_date": NEW_DAY,
            "setl_time": datetime(2025, 12, 16, 2, 0, tzinfo=UTC),
        }
        async with db.write() as conn:
            assert await bills_repository.insert_bill(conn, values)
    return count / (time.perf_counter() - started)


async def run(args: argparse.Namespace, urls: dict[int, str]) -> dict[str, Any]:
    dbs = {n: Database.from_url(url, pool_size=2) for n, url in urls.items()}
    try:
        for n, db in dbs.items():
            log(f"loading {n} month(s) of {args.per_month} bills")
            started = time.perf_counter()
            await load(db, _months(n), args.per_month, args.hospitals)
            log(f"  loaded in {time.perf_counter() - started:.0f} s")
        async with dbs[1].read() as conn:
            row = await bills_repository.get_any(conn, f"S{LAST_MONTH:%Y%m}-1")
        assert row is not None
        template = dict(row._asdict())
        hospitals = range(1, args.hospitals + 1)
        times: dict[int, list[float]] = {n: [] for n in dbs}
        server: dict[int, list[float]] = {n: [] for n in dbs}
        rates: dict[int, list[float]] = {n: [] for n in dbs}
        for db in dbs.values():  # warm-up: caches and prepared statements
            for h in hospitals:
                await reconcile_day(db, h)
        for round_ in range(args.rounds):
            order = list(dbs) if round_ % 2 == 0 else list(reversed(dbs))
            for n in order:
                for h in hospitals:
                    times[n].append(await reconcile_day(dbs[n], h))
                    server[n].append(await server_ms(dbs[n], h))
            for n in order:
                start = round_ * args.inserts
                rates[n].append(await insert_day(dbs[n], template, start, args.inserts))
        async with dbs[12].read() as conn:
            plan = await conn.execute(text(f"EXPLAIN {_DAY_TOTALS}"), {"h": 1, "d": DAY})
            explain = [row[0] for row in plan]
            rows = await conn.execute(text("SELECT count(*) FROM bills"))
            total_12 = int(rows.scalar_one())
    finally:
        for db in dbs.values():
            await db.dispose()
    ms = {n: statistics.median(t) * 1000 for n, t in times.items()}
    per_s = {n: statistics.median(r) for n, r in rates.items()}
    db_ms = {n: statistics.median(t) for n, t in server.items()}
    return {
        "bills": {"1": args.per_month, "12": total_12},
        "reconcile_day_ms": {str(n): round(v, 3) for n, v in ms.items()},
        "reconcile_ratio_12_1": round(ms[12] / ms[1], 3),
        "totals_server_ms": {str(n): round(v, 3) for n, v in db_ms.items()},
        "totals_server_ratio_12_1": round(db_ms[12] / db_ms[1], 3),
        "insert_bills_per_s": {str(n): round(v, 1) for n, v in per_s.items()},
        "insert_ratio_12_1": round(per_s[12] / per_s[1], 3),
        "explain_day_totals_12_months": explain,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-month", type=int, default=50_000, help="bills per month")
    parser.add_argument("--hospitals", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inserts", type=int, default=2000, help="bills per round")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    dsn = admin_dsn()
    created = {n: create_database(dsn, f"partitions{n}") for n in (1, 12)}
    try:
        for url, _ in created.values():
            run_migrations(MIGRATIONS, url)
        results = asyncio.run(run(args, {n: url for n, (url, _) in created.items()}))
    finally:
        if not args.keep:
            for _, name in created.values():
                drop_database(dsn, name)
    results["config"] = vars(args)
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "partitions.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print()
    print("EXPLAIN (12 months) of a hospital-day's totals:")
    for line in results["explain_day_totals_12_months"]:
        print(f"  {line}")
    ms, rate = results["reconcile_day_ms"], results["insert_bills_per_s"]
    print(
        f"day's reconciliation: 1 month {ms['1']:.2f} ms, 12 months {ms['12']:.2f} ms per "
        f"hospital-day, ratio {results['reconcile_ratio_12_1']:.2f}"
    )
    db_ms = results["totals_server_ms"]
    print(
        f"day's totals, PostgreSQL's time: 1 month {db_ms['1']:.3f} ms, 12 months "
        f"{db_ms['12']:.3f} ms, ratio {results['totals_server_ratio_12_1']:.2f}"
    )
    print(
        f"day's inserts: 1 month {rate['1']:.0f} bills/s, 12 months {rate['12']:.0f} bills/s, "
        f"ratio {results['insert_ratio_12_1']:.2f}"
    )
    print(f"load average {results['load_average']}")


if __name__ == "__main__":
    main()
