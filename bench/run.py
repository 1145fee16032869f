"""`make bench`: settlement throughput and latency against the physical limit of the stack.

One run, on this machine, on PostgreSQL:

1. the engine alone (``bench/engine_bench.py``), a registry CSV import
   (``bench/registry_import.py``) and fund supervision's cost on a settle, rules on / off,
   and the audit chain's (``bench/supervision_bench.py``), a day's reconciliation and inserts
   with 1 vs 12 months of bills in monthly partitions (``bench/partition_bench.py``), when
   those scripts are present;
2. both services started as in production (``serve``, one worker each, ``ENV=prod`` with
   generated tokens) on fresh databases, a hospital registered, a registry CSV of poor and
   non-poor patients imported;
3. with ``wrk`` (32 connections, a fixed time each, after a short warm-up):
   the baseline (``bench/baseline_app.py``: raw asyncpg, the same-shaped transaction),
   ``POST /v1/settlements`` (distinct idempotency keys and visits, 20-item inpatient bills),
   the same settles against the settlement service with two workers (``settle_2w``: the
   scaling from one to two, ``scaling_2w``),
   a bare ASGI endpoint and the registry's eligibility lookup; then a 200,000-row catalogue
   and the hospital's mapping are imported over the API and the settles run again, every
   line classified by the catalogue (``settle_catalogue``);
4. optionally a profile of the settlement process under the same load (py-spy).

Prints a summary and writes ``bench/results/latest.json``. Everything it starts is stopped
and every database it created is dropped.

    python -m bench.run [--duration 15] [--connections 32] [--threads 1] [--no-profile] [--large]
    python -m bench.run --only settle,settle_2w --duration 3   # those targets alone

``--large`` adds the large-data figures (``bench/large_data.py``) under ``large_data``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.support.data import Patient, inpatient_items, make_patients, registry_csv, settle_body
from tests.support.processes import REPO_ROOT, VENV_BIN, ServiceProcess, run_cli

BENCH = REPO_ROOT / "bench"
RESULTS = BENCH / "results"
GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0
MEASURED_NIGHTS = "60"
"""The night of the year a patient's first measured stay takes (settle.lua's FIRST_NIGHT)."""


# ----------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_wrk() -> str | None:
    """The path of ``wrk``; installs Debian's package when missing and allowed."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        log("wrk not found: installing Debian's package `wrk`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False)
    return shutil.which("wrk")


def admin_dsn() -> str:
    candidates = (
        [os.environ["MEDAID_BENCH_PG"]]
        if os.environ.get("MEDAID_BENCH_PG")
        else [
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql://root@127.0.0.1:5432/postgres",
        ]
    )

    async def probe(dsn: str) -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    for dsn in candidates:
        if asyncio.run(probe(dsn)):
            return dsn
    raise SystemExit(
        f"PostgreSQL is not reachable at {candidates[0]} (set MEDAID_BENCH_PG to an admin URL)"
    )


async def _admin_sql(dsn: str, *statements: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return [await conn.fetchval(sql) for sql in statements]
    finally:
        await conn.close()


def admin_sql(dsn: str, *statements: str) -> list[Any]:
    return asyncio.run(_admin_sql(dsn, *statements))


def with_database(dsn: str, name: str) -> str:
    return dsn.rpartition("/")[0] + "/" + name


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu.get(current, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds of every ``postgres`` process on the machine (server and backends)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (``/proc/stat``)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


# ----------------------------------------------------------------------------- wrk


class Wrk:
    def __init__(self, exe: str, *, connections: int, threads: int, duration: float) -> None:
        self.exe = exe
        self.connections = connections
        self.threads = threads
        self.duration = duration

    def run(
        self,
        url: str,
        script: str,
        args: list[str],
        *,
        duration: float | None = None,
        watch_pid: int | None = None,
        also_watch: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        seconds = duration or self.duration
        cmd = [
            self.exe,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(BENCH / script),
            url,
            "--",
            *args,
        ]
        env = {**os.environ, "MEDAID_WRK_REPORT": str(BENCH / "report.lua")}
        cpu_before = process_tree_cpu_seconds(watch_pid) if watch_pid else 0.0
        others_before = {k: process_tree_cpu_seconds(p) for k, p in (also_watch or {}).items()}
        pg_before = postgres_cpu_seconds()
        machine_before = machine_busy_seconds()
        result = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False
        )
        cpu_after = process_tree_cpu_seconds(watch_pid) if watch_pid else 0.0
        others_after = {k: process_tree_cpu_seconds(p) for k, p in (also_watch or {}).items()}
        pg_after = postgres_cpu_seconds()
        machine_after = machine_busy_seconds()
        line = next(
            (x for x in result.stdout.splitlines() if x.startswith("WRKJSON ")),
            None,
        )
        if result.returncode != 0 or line is None:
            raise RuntimeError(
                f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        raw = json.loads(line.removeprefix("WRKJSON "))
        elapsed = raw["duration_us"] / 1e6
        statuses = {int(k): v for k, v in raw["statuses"].items()}
        ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
        errors = raw["errors"]
        out = {
            "requests": raw["requests"],
            "ok": ok,
            "per_second": round(ok / elapsed, 1),
            "p50_ms": raw["latency_us"]["p50"] / 1000,
            "p90_ms": raw["latency_us"]["p90"] / 1000,
            "p99_ms": raw["latency_us"]["p99"] / 1000,
            "max_ms": raw["latency_us"]["max"] / 1000,
            "non_2xx": raw["requests"] - ok,
            "statuses": statuses,
            "socket_errors": {k: v for k, v in errors.items() if k != "status" and v},
            "seconds": round(elapsed, 2),
        }
        if watch_pid and ok:
            out["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / ok, 3)
            out["server_cpu_share"] = round((cpu_after - cpu_before) / elapsed, 2)
            # Where the machine's CPU went, in cores busy on average during the run.
            cores = {"service": out["server_cpu_share"]}
            for name, before in others_before.items():
                cores[name] = round((others_after[name] - before) / elapsed, 2)
            cores["postgres"] = round((pg_after - pg_before) / elapsed, 2)
            cores["machine"] = round((machine_after - machine_before) / elapsed, 2)
            out["cores_busy"] = cores
            out["postgres_cpu_ms_per_request"] = round((pg_after - pg_before) * 1000 / ok, 3)
        return out


# ----------------------------------------------------------------------------- data


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def write_lua_data(
    path: Path,
    patients: list[Patient],
    visits: list[tuple[str, str]],
    item_pool: list[str],
    threads: int = 1,
) -> None:
    lines = ["return {", f"threads = {threads},", "patients = {"]
    lines += [f"{{{lua_string(p.id_number)}, {lua_string(p.name)}}}," for p in patients]
    lines += ["},", "registered = {"]
    lines += [f"{lua_string(p.id_number)}," for p in patients if p.registered]
    lines += ["},", "visits = {"]
    lines += [f"{{{lua_string(a)}, {lua_string(d)}}}," for a, d in visits]
    lines += ["},", "items = {"]
    lines += [f"{lua_string(items)}," for items in item_pool]
    lines += ["}", "}"]
    path.write_text("\n".join(lines), encoding="utf-8")


def make_visits(rng: random.Random, today: date) -> list[tuple[str, str]]:
    """Consecutive one-night stays of this calendar year (last year in early January): a
    patient's n-th bill takes the n-th, so no two stays of a person overlap."""
    year_start = date(today.year, 1, 1)
    last = today - timedelta(days=1)
    if (last - year_start).days < 30:
        year_start, last = date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    nights = (last - year_start).days
    return [
        (
            (year_start + timedelta(days=k)).isoformat(),
            (year_start + timedelta(days=k + 1)).isoformat(),
        )
        for k in range(nights)
    ]


# ----------------------------------------------------------------------------- side benches


def run_script(
    name: str, pattern: str, args: list[str], env: dict[str, str], *, module: bool = False
) -> dict[str, Any]:
    """Run ``bench/<name>`` (as ``python -m bench.<name>`` with ``module``) and pick its
    figure from the output with ``pattern``."""
    script = BENCH / name
    if not script.exists():
        return {"skipped": f"bench/{name} not present"}
    log(f"running bench/{name}")
    command = ["-m", f"bench.{script.stem}"] if module else [str(script)]
    result = subprocess.run(
        [sys.executable, *command, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    match = re.search(pattern, output)
    if result.returncode != 0 or match is None:
        return {"error": f"exit {result.returncode}", "output": output[-2000:]}
    return {"value": float(match.group(1).replace(",", "")), "output": result.stdout.strip()[-800:]}


# ----------------------------------------------------------------------------- profile


def profile_settle(pid: int, seconds: float, out_dir: Path) -> dict[str, Any] | None:
    """Sample the settlement process with py-spy while it is under load (started in the
    background; the caller runs wrk meanwhile). Returns a handle to finish."""
    exe = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(exe).exists():
        return None
    raw = out_dir / "settle-profile.txt"
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--nonblocking",
            "--gil",
            "--full-filenames",
            "--function",
            "--format",
            "raw",
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return {"proc": proc, "raw": raw}


COMPONENTS = (
    ("settlement.engine", "/settlement/engine/"),
    ("settlement (service code)", "/services/settlement/"),
    ("shared", "/shared/src/shared/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("asyncpg", "/asyncpg/"),
    ("pydantic", "/pydantic"),
    ("fastapi", "/fastapi/"),
    ("starlette", "/starlette/"),
    ("uvicorn", "/uvicorn/"),
    ("httpx/httpcore", "/http"),
    ("json", "/json/"),
    ("logging", "/logging/"),
    ("structlog", "/structlog/"),
    ("asyncio", "/asyncio/"),
    ("decimal", "decimal"),
)


def _component(frame: str) -> str:
    for name, marker in COMPONENTS:
        if marker in frame:
            return name
    match = re.search(r"\(([^:)]+)", frame)
    return Path(match.group(1)).name if match else frame


def summarise_profile(raw: Path, top: int = 30) -> dict[str, Any]:
    """Inclusive share per function and self share per component from py-spy raw stacks."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")[1:]  # the first entry names the process/thread
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            self_time[_component(frames[-1])] += count
    if not total:
        return {"samples": 0}

    def share(n: int) -> float:
        return round(100 * n / total, 1)

    interesting = [
        (frame, n)
        for frame, n in inclusive.most_common()
        if "/services/" in frame
        or "/shared/src/" in frame
        or "/sqlalchemy/" in frame
        or "/pydantic" in frame
        or "/fastapi/" in frame
        or "/asyncpg/" in frame
    ]
    return {
        "samples": total,
        "self_by_component_pct": {k: share(v) for k, v in self_time.most_common()},
        "inclusive_top_pct": [
            {"function": frame.replace(str(REPO_ROOT) + "/", ""), "pct": share(n)}
            for frame, n in interesting[:top]
        ],
    }


class DatabaseWaits:
    """Samples what the settlement database's sessions are doing (``pg_stat_activity``) every
    20 ms in a thread: where a request waits when it is not on the CPU."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT state, wait_event_type, wait_event, left(query, 60) AS query"
                    " FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
                self.samples += 1
                for row in rows:
                    if row["state"] == "idle":
                        continue
                    wait = f"{row['wait_event_type']}:{row['wait_event']}"
                    if row["state"] == "idle in transaction":
                        wait = "idle in transaction (client busy)"
                    elif row["wait_event_type"] is None:
                        wait = "on CPU"
                    query = " ".join(row["query"].split())
                    self.counts[f"{wait} | {query}"] += 1
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=10)
        samples = max(self.samples, 1)
        return {
            "samples": self.samples,
            "average_sessions": {k: round(v / samples, 2) for k, v in self.counts.most_common(15)},
        }


# ----------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix="medaid-bench-"))
        self.dsn = admin_dsn()
        self.databases: list[str] = []
        self.processes: list[ServiceProcess] = []
        self.results: dict[str, Any] = {}

    def database(self, label: str) -> str:
        name = f"medaid_bench_{self.run_id}_{label}"
        admin_sql(self.dsn, f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return with_database(self.dsn, name)

    def start(self, process: ServiceProcess) -> ServiceProcess:
        self.processes.append(process)
        return process.start(timeout=60)

    def teardown(self) -> None:
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception as exc:
                log(f"stopping {process.name}: {exc}")
        for name in self.databases:
            try:
                admin_sql(self.dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:
                log(f"dropping {name}: {exc}")
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- phases

    def wants(self, target: str) -> bool:
        """Whether this run measures ``target`` (every target unless ``--only`` names some)."""
        return not self.args.only or target in self.args.only

    def side_benches(self) -> None:
        self.results["engine"] = run_script(
            "engine_bench.py", r"engine:\s*([\d,.]+)\s*bills/s", ["--seconds", "3"], {}
        )
        self.results["catalogue_import"] = run_script(
            "catalogue_bench.py",
            r"catalogue import:\s*([\d,.]+)\s*rows/s",
            ["--settles", "200", "--rounds", "3"],
            {},
        )
        self.results["engine_ladder"] = run_script(
            "engine_bench.py",
            r"engine \(ladder\):\s*([\d,.]+)\s*bills/s",
            ["--seconds", "3", "--policy", "ladder"],
            {},
        )
        import_db = self.database("import")
        self.results["registry_import"] = run_script(
            "registry_import.py",
            r"([\d,.]+)\s*rows/s",
            [],
            {"REGISTRY_DATABASE_URL": import_db, "MEDAID_BENCH_DATABASE_URL": import_db},
        )
        # Fund supervision: service CPU per settle, rules on / off (quiet bills), in process.
        self.results["supervision"] = run_script(
            "supervision_bench.py",
            r"rules quiet\s.*ratio ([\d.]+)",
            [],
            {"MEDAID_BENCH_PG": self.dsn},
            module=True,
        )
        # Bills by month: a day's reconciliation, 12 months of bills vs 1 (ratio; 1.0: flat).
        self.results["partitions"] = run_script(
            "partition_bench.py",
            r"day's reconciliation: .*ratio ([\d.]+)",
            [],
            {"MEDAID_BENCH_PG": self.dsn},
            module=True,
        )

    def start_services(self, patients: list[Patient]) -> None:
        read_token = secrets.token_urlsafe(32)
        registry_env = {
            "REGISTRY_ENV": "prod",
            "REGISTRY_DATABASE_URL": self.database("registry"),
            "REGISTRY_ADMIN_TOKEN": secrets.token_urlsafe(32),
            "REGISTRY_READ_TOKENS": read_token,
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        log("registry: migrate, import the patients' CSV, serve")
        run_cli("medaid-registry", ["migrate"], registry_env)
        csv_path = self.tmp / "registry.csv"
        csv_path.write_text(registry_csv(patients), encoding="utf-8")
        run_cli("medaid-registry", ["import", str(csv_path)], registry_env, timeout=600)
        self.registry = self.start(
            ServiceProcess.serve(
                "medaid-registry", registry_env, log_path=self.tmp / "registry.log"
            )
        )
        self.read_token = read_token

        self.admin_token = secrets.token_urlsafe(32)
        settlement_env = {
            "SETTLEMENT_ENV": "prod",
            "SETTLEMENT_DATABASE_URL": self.database("settlement"),
            "SETTLEMENT_ADMIN_TOKEN": self.admin_token,
            "SETTLEMENT_REGISTRY_URL": self.registry.base_url,
            "SETTLEMENT_REGISTRY_TOKEN": read_token,
            "SETTLEMENT_RECEIPT_SECRET": "bench-receipt-secret-0123456789",
            "SETTLEMENT_LOG_LEVEL": "WARNING",
        }
        self.settlement_db_name = self.databases[-1]
        log("settlement: migrate, serve, register a hospital")
        run_cli("medaid-settlement", ["migrate"], settlement_env)
        self.settlement = self.start(
            ServiceProcess.serve(
                "medaid-settlement", settlement_env, log_path=self.tmp / "settlement.log"
            )
        )
        if self.wants("settle_2w"):
            self.settlement_2w = self.start_workers(settlement_env, 2)
        response = httpx.post(
            self.settlement.base_url + "/v1/hospitals",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            json={
                "code": "H37030501",
                "name": "淄博市第一人民医院",
                "level": 2,
                "region_code": "370305",
            },
            timeout=10,
        )
        response.raise_for_status()
        self.api_key = response.json()["api_key"]

        baseline_db = self.database("baseline")
        years = sorted({int(v[1][:4]) for v in self.visits})
        from bench.baseline_app import setup

        for year in years:
            asyncio.run(setup(baseline_db, [p.id_number for p in patients], year))
        self.baseline = self.start(
            ServiceProcess(
                [
                    str(VENV_BIN / "uvicorn"),
                    "bench.baseline_app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "{port}",
                    "--workers",
                    "1",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                {"BASELINE_DATABASE_URL": baseline_db},
                log_path=self.tmp / "baseline.log",
                name="baseline",
            )
        )

    def start_workers(self, env: dict[str, str], workers: int) -> ServiceProcess:
        """The settlement service again, on the same database, with ``workers`` workers; back
        once every worker has built its app (each writes its metrics files then)."""
        metrics = self.tmp / f"metrics-{workers}w"
        process = self.start(
            ServiceProcess.serve(
                "medaid-settlement",
                {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
                workers=workers,
                log_path=self.tmp / f"settlement-{workers}w.log",
            )
        )
        deadline = time.monotonic() + 120
        while len(list(metrics.glob("counter_*.db"))) < workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"{workers} workers did not start:\n{process.log_tail()}")
            time.sleep(0.2)
        return process

    def smoke(self, patients: list[Patient], item_pool: list[str]) -> None:
        """One settle by hand, so a broken setup stops here with a readable reason."""
        patient = next(p for p in patients if p.poor)
        body = settle_body(
            patient,
            f"smoke-{self.run_id}",
            json.loads(item_pool[0]),
            admitted_on=date.fromisoformat(self.visits[-1][0]),  # a night the load leaves
            days=1,
        )
        response = httpx.post(
            self.settlement.base_url + "/v1/settlements",
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Idempotency-Key": f"smoke-{self.run_id}",
            },
            json=body,
            timeout=30,
        )
        if response.status_code != 201:
            raise SystemExit(
                f"a smoke settle answered {response.status_code}: {response.text[:2000]}\n"
                f"settlement log:\n{self.settlement.log_tail()}"
            )
        log(f"smoke settle ok: {response.json().get('setl_id')}")

    def next_slot(self) -> str:
        """The first night of the next settle run: each run gives every patient later nights
        than the runs before it (a person is in one stay at a time)."""
        slot = self.slot
        self.slot += 40
        return str(slot)

    def load_catalogue(self) -> None:
        """A 200,000-row catalogue and the hospital's mapping of every bench item code,
        imported over the API (what ``settle_catalogue`` classifies with)."""
        from bench.catalogue_bench import generate, to_csv

        rows, mapping = generate(200_000)
        headers = {"Authorization": f"Bearer {self.admin_token}", "Content-Type": "text/csv"}
        started = time.perf_counter()
        response = httpx.post(
            self.settlement.base_url + "/v1/catalogue/imports",
            content=to_csv(rows),
            headers=headers,
            timeout=600,
        )
        response.raise_for_status()
        seconds = time.perf_counter() - started
        lines = "\n".join(
            ["medins_list_codg,med_list_codg", *(f"{a},{b}" for a, b in mapping.items())]
        )
        mapped = httpx.post(
            self.settlement.base_url + "/v1/catalogue/mappings",
            params={"hospital_code": "H37030501"},
            content=lines.encode(),
            headers=headers,
            timeout=60,
        )
        mapped.raise_for_status()
        self.results["catalogue_import_http"] = {"rows": len(rows), "seconds": round(seconds, 2)}
        log(f"catalogue: {len(rows):,} rows imported over HTTP in {seconds:.2f} s")

    def load(self, wrk: Wrk, datafile: Path) -> None:
        args = self.args
        on = self.visits[0][1]
        self.slot = 0
        self.analyzed = False
        settle_args = [str(datafile), f"s{self.run_id}", self.api_key, "/v1/settlements"]
        plan = [
            (
                "baseline",
                self.baseline,
                "settle.lua",
                [str(datafile), f"b{self.run_id}", "unused-token", "/settle", MEASURED_NIGHTS],
            ),
            ("settle", self.settlement, "settle.lua", settle_args),
            (
                "settle_2w",
                getattr(self, "settlement_2w", None),
                "settle.lua",
                [str(datafile), f"t{self.run_id}", self.api_key, "/v1/settlements"],
            ),
            ("bare", self.baseline, "eligibility.lua", [str(datafile), "unused-token", on]),
            ("eligibility", self.registry, "eligibility.lua", [str(datafile), self.read_token, on]),
        ]
        if args.catalogue:
            catalogue_args = [str(datafile), f"c{self.run_id}", self.api_key, "/v1/settlements"]
            plan.append(("settle_catalogue", self.settlement, "settle.lua", catalogue_args))
        for name, process, script, script_args in plan:
            if not self.wants(name) or process is None:
                continue
            if name == "settle_catalogue":
                self.load_catalogue()
            settles = script == "settle.lua" and name.startswith("settle")
            if args.warmup > 0:
                warm = [a.replace(self.run_id, "w" + self.run_id) for a in script_args]
                if settles:
                    warm.append(self.next_slot())
                wrk.run(process.base_url, script, warm, duration=args.warmup)
            if settles and not self.analyzed:
                # A table in use has statistics (autovacuum analyses it within a minute); a
                # fresh one has none until then, and the planner guesses its plans blind.
                admin_sql(with_database(self.dsn, self.settlement_db_name), "ANALYZE")
                self.analyzed = True
            if settles:
                script_args = [*script_args, self.next_slot()]
            log(f"load: {name} for {args.duration:g} s at {args.connections} connections")
            also = {"registry": self.registry.pid} if name in ("settle", "settle_2w") else {}
            self.results[name] = wrk.run(
                process.base_url, script, script_args, watch_pid=process.pid, also_watch=also
            )
            r = self.results[name]
            log(
                f"  {r['per_second']}/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
                f"non-2xx {r['non_2xx']} {r['statuses']} cores busy {r.get('cores_busy')}"
            )

        if args.profile and not args.only:
            seconds = max(5.0, min(args.duration, 15.0))
            handle = profile_settle(self.settlement.pid, seconds, self.tmp)
            if handle is None:
                self.results["profile"] = {"skipped": "py-spy not installed"}
                return
            log(f"profile: py-spy on the settlement process for {seconds:g} s under load")
            time.sleep(0.5)
            sampler = DatabaseWaits(with_database(self.dsn, self.settlement_db_name))
            sampler.start()
            try:
                wrk.run(
                    self.settlement.base_url,
                    "settle.lua",
                    [
                        str(datafile),
                        f"p{self.run_id}",
                        self.api_key,
                        "/v1/settlements",
                        self.next_slot(),
                    ],
                    duration=seconds,
                )
            finally:
                self.results["database_waits"] = sampler.stop()
            _, err = handle["proc"].communicate(timeout=60)
            raw: Path = handle["raw"]
            if raw.exists():
                RESULTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(raw, RESULTS / "settle-profile.txt")
                self.results["profile"] = summarise_profile(raw)
            else:
                self.results["profile"] = {"error": err.decode(errors="replace")[-1000:]}

    def run(self) -> dict[str, Any]:
        args = self.args
        exe = ensure_wrk()
        self.results["machine"] = machine()
        self.results["postgres"] = admin_sql(self.dsn, "SELECT version()")[0]
        self.results["config"] = {
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "patients": args.patients,
            "items_per_bill": 20,
            "service_workers": 1,
            "settle_2w_workers": 2,
        }
        if not args.only:
            self.side_benches()
        if exe is None:
            log("wrk is not available and could not be installed: HTTP benchmarks skipped")
            self.results["http"] = {"skipped": "wrk not available"}
            return self.results
        self.results["wrk"] = (
            subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
            .stdout.splitlines()[0]
            .strip()
        )

        rng = random.Random(20240611)
        patients = make_patients(args.patients, seed=11)
        self.visits = make_visits(rng, date.today())
        item_pool = [json.dumps(inpatient_items(rng), ensure_ascii=False) for _ in range(300)]
        datafile = self.tmp / "data.lua"
        write_lua_data(datafile, patients, self.visits, item_pool, threads=args.threads)

        self.start_services(patients)
        self.smoke(patients, item_pool)
        wrk = Wrk(exe, connections=args.connections, threads=args.threads, duration=args.duration)
        self.load(wrk, datafile)
        return self.results


def summary(results: dict[str, Any]) -> str:
    rows = [("figure", "value")]

    def http_row(label: str, key: str) -> None:
        r = results.get(key)
        if not r or "per_second" not in r:
            return
        rows.append((f"{label} /s", f"{r['per_second']:,.0f}"))
        rows.append((f"{label} p50 / p99 ms", f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}"))
        rows.append((f"{label} non-2xx", str(r["non_2xx"])))
        if "server_cpu_ms_per_request" in r:
            rows.append((f"{label} server CPU ms/req", f"{r['server_cpu_ms_per_request']:.2f}"))

    http_row("settle", "settle")
    http_row("settle, 2 workers", "settle_2w")
    if "scaling_2w" in results:
        rows.append(("scaling settle 2 workers / 1", f"{results['scaling_2w']:.2f}"))
    http_row("settle, 200,000-row catalogue", "settle_catalogue")
    http_row("baseline", "baseline")
    if "ratio_settle_baseline" in results:
        rows.append(("ratio settle/baseline", f"{results['ratio_settle_baseline']:.2f}"))
    http_row("registry eligibility", "eligibility")
    http_row("bare endpoint", "bare")
    if "ratio_eligibility_bare" in results:
        rows.append(("ratio eligibility/bare", f"{results['ratio_eligibility_bare']:.2f}"))
    for label, key, unit in (
        ("engine", "engine", "bills/s"),
        ("engine, 2023 ladder", "engine_ladder", "bills/s"),
        ("registry import", "registry_import", "rows/s"),
        ("catalogue import (in process)", "catalogue_import", "rows/s"),
        ("supervision rules on/off CPU", "supervision", "× (goal ≤ 1.10)"),
        ("day's reconciliation, 12 months / 1", "partitions", "× (flat: 1.0)"),
    ):
        r = results.get(key, {})
        number = r.get("value", 0)
        ratio = key in ("supervision", "partitions")
        figure = f"{number:,.3f}" if ratio else f"{number:,.0f}"
        value = f"{figure} {unit}" if "value" in r else r.get("skipped") or r.get("error", "-")
        rows.append((label, value))
    output = results.get("catalogue_import", {}).get("output", "")
    match = re.search(r"settle CPU ms: declared ([\d.]+) / catalogue ([\d.]+)", output)
    if match:
        rows.append(("settle CPU ms, in process: declared / catalogue", " / ".join(match.groups())))
    http_import = results.get("catalogue_import_http")
    if http_import:
        rows.append(("catalogue import over HTTP, 200,000 rows", f"{http_import['seconds']:.2f} s"))
    width = max(len(a) for a, _ in rows)
    lines = [f"{a:<{width}}  {b}" for a, b in rows]
    lines.insert(1, "-" * (width + 20))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env_duration = float(os.environ.get("MEDAID_BENCH_DURATION", "15"))
    parser.add_argument(
        "--duration",
        type=float,
        default=env_duration,
        help="seconds of load per target (env MEDAID_BENCH_DURATION)",
    )
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1-2)")
    parser.add_argument("--patients", type=int, default=4000)
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("MEDAID_BENCH_PROFILE", "1") == "1",
        help="profile the settlement process with py-spy after the measurement",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument(
        "--large",
        action="store_true",
        help="also the large-data figures (bench/large_data.py: 1,000,000-bill report, "
        "what-if, reconciliation, 1,000,000-row registry import; adds 10+ minutes)",
    )
    parser.add_argument(
        "--catalogue",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="import a 200,000-row catalogue and run the settles again (settle_catalogue)",
    )
    parser.add_argument(
        "--only",
        type=lambda text: {t.strip() for t in text.split(",") if t.strip()},
        default=set(),
        help="only these HTTP targets (comma-separated: baseline, settle, settle_2w, bare, "
        "eligibility, settle_catalogue); no side benches, no profile; written to "
        "bench/results/only.json instead of latest.json",
    )
    args = parser.parse_args()

    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.teardown()
    if args.large:
        from bench import large_data

        results["large_data"] = large_data.run_all()
    elif not args.only and (RESULTS / "latest.json").exists():
        # The large-data figures come from runs of their own: kept until measured again.
        earlier = json.loads((RESULTS / "latest.json").read_text(encoding="utf-8"))
        if "large_data" in earlier:
            results["large_data"] = earlier["large_data"]
    settle, baseline = results.get("settle"), results.get("baseline")
    if settle and baseline and baseline.get("per_second"):
        results["ratio_settle_baseline"] = round(settle["per_second"] / baseline["per_second"], 3)
        results["goal"] = {
            "ratio_min": GOAL_RATIO,
            "p99_max_ms": GOAL_P99_MS,
            "met": results["ratio_settle_baseline"] >= GOAL_RATIO
            and settle["p99_ms"] <= GOAL_P99_MS,
        }
    settle_2w = results.get("settle_2w")
    if settle and settle_2w and settle.get("per_second"):
        results["scaling_2w"] = round(settle_2w["per_second"] / settle["per_second"], 3)
    eligibility, bare = results.get("eligibility"), results.get("bare")
    if eligibility and bare and bare.get("per_second"):
        results["ratio_eligibility_bare"] = round(eligibility["per_second"] / bare["per_second"], 3)
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(parents=True, exist_ok=True)
    written = RESULTS / ("only.json" if args.only else "latest.json")
    written.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print()
    print(summary(results))
    profile = results.get("profile", {})
    if profile.get("self_by_component_pct"):
        print("\nsettlement process, CPU samples by component (self %):")
        for name, pct in list(profile["self_by_component_pct"].items())[:12]:
            print(f"  {pct:5.1f}  {name}")
    waits = results.get("database_waits", {}).get("average_sessions", {})
    if waits:
        print("\nsettlement database sessions under load (average count, state | query):")
        for name, count in list(waits.items())[:8]:
            print(f"  {count:5.2f}  {name}")
    if "large_data" in results:
        from bench.large_data import summary as large_summary

        print("\nlarge data:\n" + large_summary(results["large_data"]))
    print(f"\nwritten: {written}")


if __name__ == "__main__":
    main()
