"""The policy what-if over a year of 100,000 bills on PostgreSQL.

A fresh database gets 20 hospitals and 100,000 bills of 2025 (COPY) of 25,000 patients, four
stays each, about 3% revoked with their reversals; each bill keeps 8-20 realistic fee items.
``POST /v1/policies/simulate`` runs in process (httpx over ASGI, the admin token) with the
2020 policy's basic inpatient ratio raised to 95% as the candidate, for the whole year: every
bill and reversal is re-run with the engine. The best and median of a few runs are printed
with the CPU time per run of the process and of its worker processes (the database's share is
the rest of the wall time).

    python -m bench.simulation_bench [--bills 100000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

from bench.admin_data import (
    ADMIN_TOKEN,
    add_hospitals,
    bill_records,
    copy_bills,
    service_settings,
    settlement_database,
    vacuum_analyze,
)
from settlement.app import create_app
from settlement.bills.partitions import ensure_months
from settlement.database import Database
from settlement.engine import default_policy_dir

YEAR = 2025
GOAL_S = 5.0
STAYS_PER_PATIENT = 4


def candidate() -> str:
    """The 2020 policy with the basic fund's inpatient ratio raised to 95% at every level."""
    text = (default_policy_dir() / "2020.toml").read_text(encoding="utf-8")
    section = text.index("[funds.inpatient]")
    match = re.compile(r"^ratio = .*$", re.MULTILINE).search(text, section)
    assert match is not None
    changed = (
        text[: match.start()] + "ratio = { 1 = 0.95, 2 = 0.95, 3 = 0.95 }" + text[match.end() :]
    )
    return re.sub(r'^version = ".*"$', 'version = "bench-candidate"', changed, flags=re.M)


async def load(url: str, bills: int) -> None:
    # The year's monthly partitions first, as a service running through the year would have
    # made them: rows COPY'd into the DEFAULT partition would be moved by the app's start-up
    # while the first run reads them, into partitions no ANALYZE has seen.
    db = Database.from_url(url, pool_size=1)
    try:
        await ensure_months(db, date(YEAR, 1, 1), ahead=11)
    finally:
        await db.dispose()
    hospitals = await add_hospitals(url, 20, ["370305"])
    days = [date(YEAR, 1, 1) + timedelta(days=d) for d in range(365)]
    started = time.perf_counter()
    await copy_bills(
        url,
        bill_records(
            bills,
            hospitals=[(h, level) for h, level, _ in hospitals],
            days=days,
            seed=5,
            persons=max(1, bills // STAYS_PER_PATIENT),
        ),
    )
    await vacuum_analyze(url)
    print(f"  loaded {bills:,} bills in {time.perf_counter() - started:.0f} s", flush=True)


def children_cpu() -> float:
    """CPU seconds of the child processes (the what-if's worker processes) so far: those
    that ended (``getrusage``) and those still running (``/proc/PID/stat``)."""
    running = multiprocessing.active_children()  # first: reaps those that ended
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for child in running:
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


async def measure(url: str, runs: int) -> tuple[float, float, float]:
    """(best wall seconds, CPU seconds of this process in that run, of its worker
    processes)."""
    app = create_app(service_settings(url))
    body = {"policy": candidate(), "from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}
    figures: list[tuple[float, float, float]] = []
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as client:
            for _ in range(runs):
                workers = children_cpu()
                cpu, started = time.process_time(), time.perf_counter()
                response = await client.post(
                    "/v1/policies/simulate",
                    json=body,
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                figures.append((wall, cpu, children_cpu() - workers))
                assert response.status_code == 200, response.text[:500]
                result = response.json()
                print(
                    f"  run: {wall:.2f} s wall, {cpu:.2f} s CPU, worker processes "
                    f"{figures[-1][2]:.2f} s CPU (load {os.getloadavg()[0]:.1f}); "
                    f"{result['bills']:,} records ({result['reversals']:,} reversals), "
                    f"{result['patients']:,} patients, fund difference "
                    f"{result['fund_pay_sumamt']['difference']}",
                    flush=True,
                )
    walls = [wall for wall, _, _ in figures]
    print(f"  best {min(walls):.2f} s, median {statistics.median(walls):.2f} s")
    return min(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--url", help="reuse a database loaded by an earlier --keep run")
    args = parser.parse_args()
    print(f"policy what-if over {args.bills:,} bills of {YEAR} (PostgreSQL)", flush=True)
    with settlement_database("whatif", args.url, keep=args.keep) as (url, fresh):
        if fresh:
            asyncio.run(load(url, args.bills))
        wall, cpu, workers = asyncio.run(measure(url, args.runs))
    print(
        f"RESULT what-if {args.bills} bills: {wall:.2f} s (goal {GOAL_S:g} s), CPU {cpu:.2f} s, "
        f"worker processes {workers:.2f} s"
    )


if __name__ == "__main__":
    main()
