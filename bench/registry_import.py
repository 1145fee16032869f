"""Registry bulk import: a generated 100,000-row CSV into fresh PostgreSQL and SQLite databases.

Each import goes through the API in process (``POST /v1/imports``: parsing, validation,
registry checks, bulk writes, one transaction); then the same file again, which must change
nothing. Prints rows/s per backend, PostgreSQL first.

    python bench/registry_import.py [--rows 100000] [--backend both|postgres|sqlite]

With ``--cli`` (the large-data figure: ``--cli --rows 1000000``) the file is written to disk
and imported on PostgreSQL by ``medaid-registry import FILE`` in a process of its own, as an
ops team would; the wall time, that process's CPU time and its peak resident memory
(``VmHWM``) are printed, then the same file again (nothing changes).

PostgreSQL: ``MEDAID_BENCH_DATABASE_URL`` (an empty database) if set, else a database created
for the run on ``MEDAID_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx

from registry.app import create_app
from registry.config import Settings
from registry.database import migrate
from registry.imports.csvfile import HEADER_LINE
from shared.idnumber import check_character

HOUSEHOLD_CATEGORIES = ("registered_poor", "dibao", "low_income")
PERSON_CATEGORIES = ("destitute", "illness_poverty", "poor_disabled")
RELATIONS = ("户主", "配偶", "子女", "子女", "父母", "孙子女")
NAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"


def generate(rows: int, seed: int = 20261128) -> tuple[bytes, dict[str, int]]:
    """A realistic file: households of 1-5 members, most with a household-level category
    repeated on each member's row, some members with their own category on an extra row,
    some periods already ended, some members without any status."""
    rng = random.Random(seed)
    lines = [HEADER_LINE]
    households = serial = 0
    while len(lines) <= rows:
        households += 1
        code = f"H{households:08d}"
        region = f"3703{rng.randint(1, 6):02d}"
        category = rng.choice((*HOUSEHOLD_CATEGORIES, "", ""))
        start = date(2016, 1, 1) + timedelta(days=rng.randint(0, 2500))
        end = start + timedelta(days=rng.randint(200, 2000)) if rng.random() < 0.2 else None
        for member in range(rng.choice((1, 2, 3, 3, 4, 5))):
            serial += 1
            born = date(1940, 1, 1) + timedelta(days=serial % 25000)
            first17 = f"{region}{born:%Y%m%d}{serial // 25000 % 1000:03d}"
            number = first17 + check_character(first17)
            name = rng.choice(NAMES) + rng.choice(NAMES)
            relation = RELATIONS[min(member, len(RELATIONS) - 1)]
            base = f"{code},{region},{number},{name},{relation}"
            span = f"{start},{end or ''}" if category else ","
            lines.append(f"{base},{category},{span}")
            if rng.random() < 0.15:
                own = rng.choice(PERSON_CATEGORIES)
                own_start = start + timedelta(days=rng.randint(0, 400))
                lines.append(f"{base},{own},{own_start},")
    del lines[rows + 1 :]
    cells = [line.split(",", 3) for line in lines[1:]]
    counts = {"households": len({c[0] for c in cells}), "persons": len({c[2] for c in cells})}
    return ("\n".join(lines) + "\n").encode(), counts


async def _import(url: str, data: bytes) -> list[tuple[float, dict[str, object]]]:
    admin = secrets.token_urlsafe(24)
    settings = Settings(
        env="test",
        database_url=url,
        admin_token=admin,
        read_tokens=secrets.token_urlsafe(24),
        max_import_bytes=256 * 1024 * 1024,
    )
    app = create_app(settings)
    timings = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://registry", timeout=600
        ) as client:
            for _ in range(2):
                started = time.perf_counter()
                response = await client.post(
                    "/v1/imports",
                    content=data,
                    headers={"Authorization": f"Bearer {admin}", "Content-Type": "text/csv"},
                )
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise SystemExit(f"import failed: {response.status_code} {response.text[:500]}")
                timings.append((elapsed, response.json()))
    return timings


def _admin_dsn() -> str:
    return os.environ.get("MEDAID_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(_admin_dsn())
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def bench(backend: str, data: bytes, rows: int) -> None:
    created: str | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if backend == "postgres":
        url = os.environ.get("MEDAID_BENCH_DATABASE_URL", "")
        if not url.startswith("postgres"):
            created = f"medaid_bench_import_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(f'CREATE DATABASE "{created}"'))
            url = _admin_dsn().rpartition("/")[0] + f"/{created}"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="medaid-bench-")
        url = f"sqlite:///{Path(tmp.name) / 'registry.db'}"
    try:
        migrate(url)
        (first, result), (again, second) = asyncio.run(_import(url, data))
        assert second["changed"] is False, second
        periods = result["periods"]
        assert isinstance(periods, dict)
        print(
            f"{backend:>8}: {rows:,} rows in {first:.2f} s = {rows / first:,.0f} rows/s "
            f"({periods['created']:,} status periods created); "
            f"same file again {again:.2f} s = {rows / again:,.0f} rows/s (nothing changed)",
            flush=True,
        )
    finally:
        if created:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)'))
        if tmp is not None:
            tmp.cleanup()


IMPORT_GOAL_S = 60.0


def _peak_rss_kib(pid: int) -> int | None:
    """The process's peak resident memory so far (``VmHWM``), None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _server_cpu(database: str, seen: dict[int, float]) -> None:
    """The CPU seconds so far of each local PostgreSQL backend serving ``database`` (found by
    its process title), into ``seen`` by process id."""
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                title = cmdline.read()
            if not title.startswith(b"postgres: ") or f" {database} ".encode() not in title:
                continue
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick


def _cli_import(path: Path, url: str) -> tuple[float, float, int, str, float]:
    """``medaid-registry import path`` in a process of its own: (wall seconds, its CPU seconds,
    its peak RSS in MiB, its standard output, the CPU seconds of the PostgreSQL backends that
    served it).

    The peak RSS is the process's ``VmHWM``, read every 20 ms until it exits: ``ru_maxrss``
    from ``wait4`` would count this script's own memory too (a child's high-water mark starts
    from its parent's resident size when it is forked). The server's CPU is read from
    ``/proc`` every 0.2 s (a local server only; what a backend spends in its last 0.2 s is
    missed)."""
    database = url.rpartition("/")[2].partition("?")[0]
    backends: dict[int, float] = {}
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_ENV": "test"}
    exe = Path(sys.executable).parent / "medaid-registry"
    started = time.perf_counter()
    peak = polls = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([str(exe), "import", str(path)], env=env, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _peak_rss_kib(process.pid) or 0)
            polls += 1
            if polls % 10 == 0:
                _server_cpu(database, backends)
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"import exited {process.returncode}: {stderr[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, peak // 1024, stdout, sum(backends.values())


def bench_cli(data: bytes, rows: int) -> None:
    created = f"medaid_bench_import_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{created}"'))
    url = _admin_dsn().rpartition("/")[0] + f"/{created}"
    try:
        migrate(url)
        with tempfile.TemporaryDirectory(prefix="medaid-bench-") as tmp:
            path = Path(tmp) / "registry.csv"
            path.write_bytes(data)
            del data
            first, first_cpu, first_rss, output, first_server = _cli_import(path, url)
            created_periods = json.loads(output)["periods"]["created"]
            again, again_cpu, again_rss, output, again_server = _cli_import(path, url)
            assert json.loads(output)["changed"] is False, output
        print(
            f"postgres, CLI: {rows:,} rows in {first:.2f} s = {rows / first:,.0f} rows/s, "
            f"{first_cpu:.1f} s CPU (server {first_server:.1f} s), peak RSS {first_rss:,} MiB "
            f"({created_periods:,} status periods created); same file again {again:.2f} s, "
            f"{again_cpu:.1f} s CPU (server {again_server:.1f} s), peak RSS {again_rss:,} MiB "
            "(nothing changed)",
            flush=True,
        )
        print(
            f"RESULT registry import {rows} rows: {first:.2f} s (goal {IMPORT_GOAL_S:g} s), "
            f"CPU {first_cpu:.1f} s, peak RSS {first_rss} MiB, server CPU {first_server:.1f} s, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=("both", "postgres", "sqlite"), default="both")
    parser.add_argument(
        "--cli", action="store_true", help="import with the CLI in a subprocess (PostgreSQL)"
    )
    args = parser.parse_args()
    data, counts = generate(args.rows)
    print(
        f"registry import: {args.rows:,} rows, {counts['households']:,} households, "
        f"{counts['persons']:,} persons, {len(data) / 1e6:.1f} MB",
        flush=True,
    )
    if args.cli:
        bench_cli(data, args.rows)
        return
    backends = ("postgres", "sqlite") if args.backend == "both" else (args.backend,)
    for backend in backends:
        bench(backend, data, args.rows)


if __name__ == "__main__":
    main()
