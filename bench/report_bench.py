"""The fund report over a year of 1,000,000 bills on PostgreSQL.

A fresh database gets 50 hospitals in 5 regions and 1,000,000 bills spread over 2025 (about
3% revoked, with their reversals) and their fund rows: 20,000 made in Python (COPY), copied
in SQL to the count (``INSERT … SELECT`` over ``generate_series``), then VACUUM ANALYZE, as a
database in service would be after autovacuum.
``GET /v1/reports/funds?from=2025-01-01&to=2025-12-31&group_by=…`` runs in process (httpx
over ASGI) for every grouping; the best and median of a few runs are printed, each with the
CPU time of the fastest run: the benchmark's process (router, service, answer) and the
server's (the database's backends and their parallel workers, from ``/proc``: a machine
shared with other work moves wall times, CPU times much less). Before them, the query plans of the
hospital and fund groupings; after them, the fund grouping's SQL and the join it replaced
(migration 0012) taking turns, with the same answer.

    python -m bench.report_bench [--bills 1000000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import threading
import time
from datetime import date, timedelta
from pathlib import Path

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
PERIOD = f"BETWEEN '{YEAR}-01-01' AND '{YEAR}-12-31'"
JOINED_FUND_QUERY = (
    "SELECT f.fund_pay_type, min(f.fund_pay_type_name), count(*), sum(b.refd_setl_flag), "
    "sum(f.fund_payamt) FROM bill_funds f JOIN bills b ON b.setl_id = f.setl_id "
    f"WHERE b.status IN ('settled', 'revoked') AND b.setl_date {PERIOD} GROUP BY f.fund_pay_type"
)
"""The fund grouping before the fund rows carried their bill's date: a join with the bills."""
FUND_QUERY = (
    "SELECT fund_pay_type, min(fund_pay_type_name), count(*), sum(refd_setl_flag), "
    f"sum(fund_payamt) FROM bill_funds WHERE setl_date {PERIOD} GROUP BY fund_pay_type"
)
"""The fund grouping since migration 0012: the fund rows alone."""
HOSPITAL_QUERY = (
    "SELECT hospital_id, count(*), sum(medfee_sumamt), sum(fund_pay_sumamt) FROM bills "
    f"WHERE status IN ('settled', 'revoked') AND setl_date {PERIOD} GROUP BY hospital_id"
)
TUNING = ("SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off")
"""As ``settlement.reports.repository.tune_for_aggregation`` sets them."""


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


def _proc_cpu(pid: int) -> float:
    """CPU seconds a process has run, from ``/proc/PID/schedstat`` (the scheduler's exact
    count; ``stat``'s user and system times are tick samples, uneven over a second); 0 if it
    is gone or not on this machine."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class ServerCpu:
    """CPU seconds the PostgreSQL server spends for the benchmark's database between
    :meth:`start` and :meth:`stop`: its client backends' (``pg_stat_activity``, read from
    ``/proc``) and their parallel workers' (children of the postmaster, found and read every
    10 ms while they run: a worker's last few milliseconds may be missed). Other databases'
    sessions are not counted. 0 when the server is not on this machine."""

    WORKER = re.compile(rb"parallel worker for PID (\d+)")

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.postmaster = 0
        self.backends: dict[int, float] = {}
        self.workers: dict[int, float] = {}
        self.seen: set[int] = set()
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    async def start(self) -> None:
        if not self.postmaster:
            own = await self.conn.fetchval("SELECT pg_backend_pid()")
            try:
                stat = Path(f"/proc/{own}/stat").read_text().rpartition(")")[2].split()
                self.postmaster = int(stat[1])
            except OSError:
                return
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        self.backends = {int(r["pid"]): _proc_cpu(int(r["pid"])) for r in rows}
        self.workers, self.seen = {}, set()
        self.done.clear()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        children = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children")
        while not self.done.wait(0.01):
            try:
                pids = [int(p) for p in children.read_text().split()]
            except OSError:
                return
            for pid in pids:
                if pid not in self.seen:
                    self.seen.add(pid)
                    try:
                        match = self.WORKER.search(Path(f"/proc/{pid}/cmdline").read_bytes())
                    except OSError:
                        continue
                    if match and int(match.group(1)) in self.backends:
                        self.workers[pid] = 0.0
                if pid in self.workers:
                    self.workers[pid] = max(self.workers[pid], _proc_cpu(pid))

    async def stop(self) -> float:
        if self.thread is None:
            return 0.0
        self.done.set()
        self.thread.join()
        self.thread = None
        used = sum(_proc_cpu(pid) - before for pid, before in self.backends.items())
        return used + sum(self.workers.values())


async def _dated_fund_rows(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'bill_funds' AND column_name = 'setl_date'"
        )
    )


async def plan(url: str) -> None:
    """The query plans of the hospital and fund groupings (and of the fund grouping's former
    join), under the report's settings, and the tables' sizes."""
    conn = await asyncpg.connect(url)
    queries = [("hospital grouping", HOSPITAL_QUERY), ("fund grouping, joined", JOINED_FUND_QUERY)]
    if await _dated_fund_rows(conn):
        queries.append(("fund grouping, fund rows alone", FUND_QUERY))
    try:
        for label, query in queries:
            async with conn.transaction():
                for statement in TUNING:
                    await conn.execute(statement)
                rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}")
            print(f"  {label}:")
            for row in rows:
                print("    " + row[0])
        sizes = await conn.fetch(
            "SELECT 'bills' AS name, pg_size_pretty(sum(pg_total_relation_size(relid))) AS size "
            "FROM pg_partition_tree('bills') UNION ALL SELECT 'bill_funds', "
            "pg_size_pretty(pg_total_relation_size('bill_funds')) UNION ALL "
            "SELECT indexrelid::regclass::text, pg_size_pretty(pg_relation_size(indexrelid)) "
            "FROM pg_index WHERE indrelid = 'bill_funds'::regclass"
        )
        print("  sizes (with indexes and TOAST): " + ", ".join(f"{r[0]} {r[1]}" for r in sizes))
    finally:
        await conn.close()


async def compare_fund_sql(url: str, runs: int) -> None:
    """The fund grouping's SQL alone, the former join and the fund rows alone taking turns
    (under the report's settings), in parallel as the report runs and in one process (no
    parallel workers: the server's CPU time is then exactly the backend's): best wall time of
    ``runs`` and the server's CPU time of that run. Only on a database whose fund rows carry
    their date (migration 0012)."""
    conn = await asyncpg.connect(url)
    probe = await asyncpg.connect(url)
    server = ServerCpu(probe)
    variants = [
        (f"{label}{', one process' if serial else ''}", query, serial)
        for serial in (False, True)
        for label, query in (("joined", JOINED_FUND_QUERY), ("fund rows alone", FUND_QUERY))
    ]
    try:
        if not await _dated_fund_rows(conn):
            return
        figures: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in variants}
        answers = {}
        for _ in range(runs):
            for label, query, serial in variants:
                async with conn.transaction():
                    for statement in TUNING:
                        await conn.execute(statement)
                    if serial:
                        await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                    await server.start()
                    started = time.perf_counter()
                    answers[label] = sorted(tuple(r) for r in await conn.fetch(query))
                    wall = time.perf_counter() - started
                    figures[label].append((wall, await server.stop()))
        assert len({tuple(a) for a in answers.values()}) == 1, answers
        for label, values in figures.items():
            wall, cpu = min(values)
            print(f"  fund SQL, {label:30s} best {wall:.2f} s (server CPU {cpu:.2f} s)")
    finally:
        await probe.close()
        await conn.close()


async def measure(url: str, runs: int) -> dict[str, float]:
    app = create_app(service_settings(url))
    best: dict[str, float] = {}
    probe = await asyncpg.connect(url)
    server = ServerCpu(probe)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as client:
            # One day first, untimed: the app's pool connects (its backends are then known).
            await client.get(
                "/v1/reports/funds",
                params={"from": f"{YEAR}-01-01", "to": f"{YEAR}-01-01", "group_by": "day"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            for group_by in GROUPINGS:
                for accept in ("application/json", "text/csv"):
                    times: list[float] = []
                    cpus: list[tuple[float, float]] = []
                    for _ in range(runs):
                        await server.start()
                        cpu = time.process_time()
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
                        own = time.process_time() - cpu
                        cpus.append((own, await server.stop()))
                        assert response.status_code == 200, response.text[:500]
                    label = f"{group_by} ({'CSV' if accept == 'text/csv' else 'JSON'})"
                    own, db = cpus[times.index(min(times))]
                    cpu_note = f"CPU {own:.2f} s here + {db:.2f} s server"
                    if accept == "application/json":
                        best[group_by] = min(times)
                        total = response.json()["total"]
                        print(
                            f"  {label:22s} best {min(times):.2f} s ({cpu_note}), median "
                            f"{statistics.median(times):.2f} s; {total['bill_count']:,} bills"
                        )
                    else:
                        print(f"  {label:22s} best {min(times):.2f} s ({cpu_note})")
    await probe.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--url", help="reuse a database loaded by an earlier --keep run")
    args = parser.parse_args()
    print(
        f"fund report over {args.bills:,} bills of {YEAR} (PostgreSQL); load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
        flush=True,
    )
    with settlement_database("report", args.url, keep=args.keep) as (url, fresh):
        if fresh:
            asyncio.run(load(url, args.bills))
        asyncio.run(plan(url))
        best = asyncio.run(measure(url, args.runs))
        asyncio.run(compare_fund_sql(url, args.runs))
    slowest = max(best, key=lambda g: best[g])
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"RESULT report over a year: {best[slowest]:.2f} s slowest ({slowest}; goal "
        f"{GOAL_S:g} s); " + ", ".join(f"{g} {s:.2f} s" for g, s in best.items())
    )


if __name__ == "__main__":
    main()
