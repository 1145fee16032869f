"""Catalogue benchmark: a 200,000-row national catalogue imported into PostgreSQL, and what a
loaded catalogue costs a 20-item settle.

1. **Import** (``POST /v1/catalogue/imports`` in process: parse, check, merge with the stored
   versions, bulk ``COPY``, one transaction): a generated 200,000-row file into a fresh
   database; the same file again (nothing changes); a new edition of it (10 % of the codes
   get a new version that closes the old one, 5 % change their values, 2,000 new codes).
2. **The cache**: how long a process takes to load the 200,000 entries, and the memory they
   take.
3. **Settle**: ``POST /v1/settlements`` in process (a stand-in registry answering at once),
   20-item inpatient bills, the service's CPU time per settle — on a database with no
   catalogue (the lines as the hospital declares them) and on one with the 200,000-row
   catalogue and the hospital's mapping of every item code — in alternating rounds, so both
   see the same machine.

Prints ``catalogue import: N rows/s (S s)`` and ``settle CPU ms: declared X / catalogue Y``.

    python bench/catalogue_bench.py [--rows 200000] [--settles 300] [--rounds 5]

PostgreSQL: a database created for the run on ``MEDAID_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``) and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import secrets
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from settlement.app import create_app
from settlement.config import Settings
from shared.db import run_migrations
from tests.support.data import ITEM_CATALOGUE, inpatient_items

MIGRATIONS = Path(__file__).resolve().parent.parent / (
    "services/settlement/src/settlement/migrations"
)
HEADER = "med_list_codg,med_list_name,chrgitm_lv,selfpay_prop,pric_uplmt_amt,begndate,enddate"
LEVEL = {"A": "01", "B": "02", "C": "03"}
WORDS = "阿莫西林头孢呋辛奥美拉唑氯化钠葡萄糖胰岛素紫杉醇利伐沙班硝苯地平二甲双胍"
FORMS = ("片", "胶囊", "注射液", "注射剂", "颗粒", "口服液", "检查", "治疗", "材料")


def national_code(n: int) -> str:
    """A code shaped like the national ones (西药 / 医疗服务项目 / 耗材)."""
    kind = n % 3
    if kind == 0:
        return f"X{n:08d}B00201010{n % 10000:04d}"
    if kind == 1:
        return f"00{n % 9 + 1}{n:09d}0000-{n % 900000 + 100000:06d}001"
    return f"C{n:010d}00000000000000{n % 100:02d}"


def generate(rows: int, seed: int = 20261201) -> tuple[list[list[str]], dict[str, str]]:
    """``rows`` catalogue rows (code, name, level, ratio, cap, begndate, enddate) and the
    national code each bench item code maps to (its level as the item's declared category)."""
    rng = random.Random(seed)
    out: list[list[str]] = []
    for n in range(rows):
        level = rng.choices(("01", "02", "03"), (45, 40, 15))[0]
        ratio = rng.choice(("", "0.05", "0.10", "0.15", "0.20")) if level == "02" else ""
        cap = (
            f"{rng.randint(100, 500000) / 100:.2f}" if rng.random() < 0.3 and level != "03" else ""
        )
        name = "".join(rng.sample(WORDS, 3)) + rng.choice(FORMS)
        begin = date(2020, 1, 1) + timedelta(days=rng.randint(0, 1500))
        out.append([national_code(n), name, level, ratio, cap, begin.isoformat(), ""])
    mapping: dict[str, str] = {}
    for index, (code, name, category, *_rest) in enumerate(ITEM_CATALOGUE):
        row = out[index * 997]
        row[1], row[2], row[3], row[4], row[5] = name, LEVEL[category], "", "", "2020-01-01"
        mapping[code] = row[0]
    return out, mapping


def to_csv(rows: list[list[str]]) -> bytes:
    return ("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n").encode("utf-8")


def new_edition(rows: list[list[str]], seed: int = 7) -> list[list[str]]:
    """The next edition: 10 % of the codes get a new version from 2026-01-01 (closing the old
    one), 5 % another name or ratio, 2,000 new codes."""
    rng = random.Random(seed)
    out = [list(r) for r in rows]
    for r in rng.sample(out, len(out) // 10):
        out.append([r[0], r[1], rng.choice(("01", "02")), "", "", "2026-01-01", ""])
    for r in rng.sample(out[: len(rows)], len(rows) // 20):
        r[1] = r[1] + "（新）"
    out += [
        [national_code(len(rows) + n), "新增项目", "01", "", "", "2026-01-01", ""]
        for n in range(2000)
    ]
    return out


def admin_dsn() -> str:
    return os.environ.get("MEDAID_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(admin_dsn())
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def database(label: str) -> AsyncIterator[str]:
    name = f"medaid_bench_catalogue_{label}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = admin_dsn().rpartition("/")[0] + f"/{name}"
    try:
        await asyncio.to_thread(run_migrations, MIGRATIONS, url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _registry(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id_number_masked": "370305********0000",
            "name": "测试",
            "household_code": "H1",
            "region_code": "370305",
            "categories": ["registered_poor"],
            "registered": True,
            "on": "2026-03-01",
            "valid_from": None,
            "valid_to": None,
        },
    )


class App:
    """The settlement app in process, with an admin token and a stand-in registry."""

    def __init__(self, url: str) -> None:
        self.key = ""  # the hospital's API key, once registered
        self.admin = secrets.token_urlsafe(24)
        self.settings = Settings(
            env="test",
            database_url=url,
            admin_token=self.admin,
            registry_url="http://registry.bench",
            registry_token=secrets.token_urlsafe(24),
            eligibility_ttl_s=0,
            log_level="WARNING",
            receipt_secret="bench-receipt-secret-0123456789",
        )
        self.app = create_app(self.settings, registry_transport=httpx.MockTransport(_registry))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[httpx.AsyncClient]:
        async with self.app.router.lifespan_context(self.app):
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://settlement", timeout=600
            ) as client:
                yield client

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}", **extra}


async def timed_post(
    client: httpx.AsyncClient, path: str, data: bytes, headers: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.post(path, content=data, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path} failed: {response.status_code} {response.text[:800]}")
    return elapsed, response.json()


async def import_phase(rows: int) -> tuple[list[list[str]], dict[str, str]]:
    catalogue, mapping = generate(rows)
    data = to_csv(catalogue)
    print(f"catalogue file: {rows:,} rows, {len(data) / 1e6:.1f} MB", flush=True)
    async with database("import") as url:
        bench = App(url)
        async with bench.running() as client:
            csv = bench.headers(**{"Content-Type": "text/csv"})
            first, result = await timed_post(client, "/v1/catalogue/imports", data, csv)
            assert result["added"] == rows, result
            print(
                f"catalogue import: {rows / first:,.0f} rows/s ({first:.2f} s, "
                f"{result['added']:,} versions added, PostgreSQL)",
                flush=True,
            )
            again, result = await timed_post(client, "/v1/catalogue/imports", data, csv)
            assert result["changed"] is False, result
            print(f"  the same file again: {again:.2f} s (nothing changed)", flush=True)
            edition = new_edition(catalogue)
            later, result = await timed_post(client, "/v1/catalogue/imports", to_csv(edition), csv)
            print(
                f"  a new edition ({len(edition):,} rows): {later:.2f} s — "
                f"{result['added']:,} added, {result['closed']:,} closed, "
                f"{result['replaced']:,} replaced, {result['unchanged']:,} unchanged",
                flush=True,
            )
            from settlement.catalogue.cache import load_entries

            ctx = bench.app.state.ctx
            gc.collect()
            tracemalloc.start()
            started = time.perf_counter()
            entries, _last = await load_entries(ctx.db)
            loaded = time.perf_counter() - started
            size, _peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"cache: {sum(len(v) for v in entries.values()):,} versions of {len(entries):,} "
                f"codes loaded in {loaded:.2f} s, {size / 1e6:.0f} MB",
                flush=True,
            )
    return catalogue, mapping


def _process_seconds() -> float:
    return time.process_time()


async def settle_phase(
    catalogue: list[list[str]], mapping: dict[str, str], settles: int, rounds: int
) -> None:
    rng = random.Random(3)
    pool = [inpatient_items(rng) for _ in range(200)]
    async with database("declared") as plain_url, database("catalogue") as loaded_url:
        plain, loaded = App(plain_url), App(loaded_url)
        async with plain.running() as plain_client, loaded.running() as loaded_client:
            for app, client in ((plain, plain_client), (loaded, loaded_client)):
                response = await client.post(
                    "/v1/hospitals",
                    json={"code": "H1", "name": "医院", "level": 2, "region_code": "370305"},
                    headers=app.headers(),
                )
                app.key = response.json()["api_key"]
            await timed_post(
                loaded_client,
                "/v1/catalogue/imports",
                to_csv(catalogue),
                loaded.headers(**{"Content-Type": "text/csv"}),
            )
            rows = "\n".join(
                ["medins_list_codg,med_list_codg", *(f"{a},{b}" for a, b in mapping.items())]
            )
            response = await loaded_client.post(
                "/v1/catalogue/mappings",
                content=rows.encode(),
                headers={"Authorization": f"Bearer {loaded.key}", "Content-Type": "text/csv"},
            )
            assert response.status_code == 200, response.text
            serial = [0]

            async def run(app: App, client: httpx.AsyncClient, count: int) -> float:
                """CPU seconds per settle over ``count`` sequential settles."""
                started = _process_seconds()
                for _ in range(count):
                    serial[0] += 1
                    n = serial[0]
                    body = {
                        "patient": {"id_number": _id(n), "name": "张三"},
                        "visit": {
                            "visit_id": f"ZY{n:08d}",
                            "type": "inpatient",
                            "admitted_on": (date(2026, 1, 1) + timedelta(days=n % 300)).isoformat(),
                            "discharged_on": (
                                date(2026, 1, 2) + timedelta(days=n % 300)
                            ).isoformat(),
                        },
                        "items": pool[n % len(pool)],
                    }
                    response = await client.post(
                        "/v1/settlements",
                        json=body,
                        headers={
                            "Authorization": f"Bearer {app.key}",
                            "Idempotency-Key": f"K{n}",
                        },
                    )
                    if response.status_code != 201:
                        raise SystemExit(f"settle failed: {response.text[:800]}")
                return (_process_seconds() - started) / count

            await run(plain, plain_client, 50)  # warm-up: the catalogue is loaded by now
            await run(loaded, loaded_client, 50)
            declared: list[float] = []
            classified: list[float] = []
            for _ in range(rounds):
                declared.append(await run(plain, plain_client, settles))
                classified.append(await run(loaded, loaded_client, settles))
            best_d, best_c = min(declared) * 1000, min(classified) * 1000
            med_d, med_c = statistics.median(declared) * 1000, statistics.median(classified) * 1000
            print(
                f"settle CPU ms: declared {best_d:.3f} / catalogue {best_c:.3f} "
                f"(best of {rounds} rounds of {settles}; medians {med_d:.3f} / {med_c:.3f}; "
                f"client and server in one process)",
                flush=True,
            )


def _id(n: int) -> str:
    from shared.idnumber import check_character

    first17 = f"3703051950{1 + n // 1000 % 12:02d}{1 + n // 12000 % 28:02d}{n % 1000:03d}"
    return first17 + check_character(first17)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--settles", type=int, default=300, help="settles per round and mode")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-settle", action="store_true", help="the import figures only")
    args = parser.parse_args(argv)
    catalogue, mapping = asyncio.run(import_phase(args.rows))
    if not args.no_settle:
        asyncio.run(settle_phase(catalogue, mapping, args.settles, args.rounds))


if __name__ == "__main__":
    main()
