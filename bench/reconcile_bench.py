"""Detail reconciliation (3202) of a 100,000-bill day on PostgreSQL.

A fresh database gets one hospital's 100,000 bills of the day, 100,000 more of its bills on
other days and another hospital's 50,000 bills of the same day (COPY). The hospital's books
(tab-separated, 100,000 lines) differ in a few hundred places: amounts, statuses, bills
missing on either side. ``POST /v1/reconciliations/detail`` runs in process (httpx over ASGI)
with the admin token; the time covers streaming the body, parsing and validating every line,
the one query over the day's bills, the join, storing the mismatches and building the
100,000-row answer. Also timed: books in JSON, and books that match nothing (100,000
mismatching rows stored).

    python -m bench.reconcile_bench [--bills 100000] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from bench.admin_data import (
    ADMIN_TOKEN,
    BILL_COLUMNS,
    add_hospitals,
    admin_dsn,
    bill_records,
    copy_bills,
    create_database,
    drop_database,
    service_settings,
    vacuum_analyze,
)
from settlement.app import create_app
from settlement.cli import MIGRATIONS
from shared.db import run_migrations

DAY = date(2026, 11, 27)
COLUMNS = (
    "setl_id",
    "visit_id",
    "id_number",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "status",
    "refd_setl_flag",
)


def books(count: int, hospital: tuple[int, int], *, seed: int) -> list[dict[str, str]]:
    """The hospital's own list of the day: the service's bills and reversals with a few
    hundred changes."""
    at = [BILL_COLUMNS.index(c) for c in COLUMNS]
    rows = []
    for bill, _ in bill_records(count, hospitals=[hospital], days=[DAY], seed=seed):
        rows.append({c: str(bill[i]) for c, i in zip(COLUMNS, at, strict=True)})
    for i in range(0, count, max(2, count // 200))[:200]:  # 200 amounts differ
        rows[i]["medfee_sumamt"] = str(Decimal(rows[i]["medfee_sumamt"]) + 1)
    for i in range(1, count, max(2, count // 50))[:50]:  # 50 statuses differ
        rows[i]["status"] = "revoked" if rows[i]["status"] == "settled" else "settled"
    del rows[-50:]  # 50 bills the hospital lacks
    for n in range(50):  # 50 bills only the hospital has
        rows.append({**rows[n], "setl_id": f"HIS-ONLY-{n:05d}", "visit_id": f"HIS{n:06d}"})
    return rows


def as_tsv(rows: list[dict[str, str]]) -> bytes:
    lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def timed(
    client: httpx.AsyncClient, label: str, runs: int, **kwargs: Any
) -> tuple[float, dict[str, Any]]:
    times: list[float] = []
    cpus: list[float] = []
    answer: dict[str, Any] = {}
    for _ in range(runs):
        if "data" in kwargs:
            kwargs["content"] = chunks(kwargs["data"])
        started, cpu = time.perf_counter(), time.process_time()
        response = await client.post(
            "/v1/reconciliations/detail",
            **{k: v for k, v in kwargs.items() if k != "data"},
        )
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        assert response.status_code == 200, response.text[:2000]
        answer = response.json()
    print(
        f"  {label}: best {min(times):.2f} s, median {statistics.median(times):.2f} s, "
        f"CPU of the process {min(cpus):.2f} s "
        f"over {runs} runs; counts {answer['counts']}"
    )
    return min(times), answer


async def run(url: str, bills: int, runs: int) -> dict[str, float]:
    hospitals = await add_hospitals(url, 2, ["370305"])
    mine, other = (hospitals[0][0], hospitals[0][1]), (hospitals[1][0], hospitals[1][1])
    started = time.perf_counter()
    await copy_bills(url, bill_records(bills, hospitals=[mine], days=[DAY], seed=11))
    others = [DAY - timedelta(days=d) for d in range(1, 8)]
    await copy_bills(
        url,
        bill_records(bills, hospitals=[mine], days=others, seed=12, prefix="P", first_person=bills),
    )
    await copy_bills(
        url,
        bill_records(
            bills // 2, hospitals=[other], days=[DAY], seed=13, prefix="Q", first_person=2 * bills
        ),
    )
    await vacuum_analyze(url)
    print(f"  loaded {bills * 2 + bills // 2} bills in {time.perf_counter() - started:.1f} s")

    rows = books(bills, mine, seed=11)
    tsv = as_tsv(rows)
    body = json.dumps(
        {
            "begin_date": DAY.isoformat(),
            "end_date": DAY.isoformat(),
            "hospital_code": "H0000",
            "bills": rows,
        }
    ).encode()
    print(f"  books: {len(rows)} lines, TSV {len(tsv) / 1e6:.1f} MB, JSON {len(body) / 1e6:.1f} MB")

    app = create_app(service_settings(url, max_body_bytes=64 * 1024 * 1024))
    figures: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as client:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            params = {
                "begin_date": DAY.isoformat(),
                "end_date": DAY.isoformat(),
                "hospital_code": "H0000",
            }
            figures["tsv"], answer = await timed(
                client,
                "TSV books, all rows in the answer",
                runs,
                params=params,
                data=tsv,
                headers={**headers, "Content-Type": "text/tab-separated-values"},
            )
            assert answer["counts"]["2"] == 50, answer["counts"]
            assert answer["counts"]["1"] == 50, answer["counts"]
            figures["tsv_mismatched"], _ = await timed(
                client,
                "TSV books, ?rows=mismatched",
                runs,
                params={**params, "rows": "mismatched"},
                data=tsv,
                headers={**headers, "Content-Type": "text/tab-separated-values"},
            )
            figures["json"], _ = await timed(
                client,
                "JSON books",
                runs,
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            empty = as_tsv([])
            figures["nothing_matches"], _ = await timed(
                client,
                f"empty books ({bills} mismatching rows stored)",
                1,
                params=params,
                data=empty,
                headers={**headers, "Content-Type": "text/tab-separated-values"},
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bills", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    dsn = admin_dsn()
    url, name = create_database(dsn, "reconcile")
    try:
        run_migrations(MIGRATIONS, url)
        print(f"detail reconciliation of a {args.bills:,}-bill day (PostgreSQL, {name})")
        figures = asyncio.run(run(url, args.bills, args.runs))
        print(
            f"RESULT reconcile {args.bills} bills: {figures['tsv']:.2f} s (TSV), "
            f"{figures['json']:.2f} s (JSON)"
        )
    finally:
        if not args.keep:
            drop_database(dsn, name)


if __name__ == "__main__":
    main()
