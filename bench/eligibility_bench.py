"""The registry's eligibility lookup alone, against the bare endpoint in the same run.

Creates a fresh PostgreSQL database, migrates it with ``medaid-registry migrate``, imports a
CSV of patients, starts the registry with ``serve`` (one worker, ``REGISTRY_ENV=prod``) and
the bare endpoint of ``bench/baseline_app.py``, then loads each with ``wrk`` and
``bench/eligibility.lua`` (warm-up, then a fixed time). With ``--profile`` it also samples
the registry process with ``py-spy`` under the same load.

    python -m bench.eligibility_bench [--duration 10] [--connections 32] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from bench.run import (
    RESULTS,
    Wrk,
    admin_dsn,
    admin_sql,
    ensure_wrk,
    log,
    make_visits,
    summarise_profile,
    with_database,
    write_lua_data,
)
from tests.support.data import make_patients, registry_csv
from tests.support.processes import VENV_BIN, ServiceProcess, run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--patients", type=int, default=4000)
    parser.add_argument("--profile", action="store_true", help="py-spy the registry under load")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    exe = ensure_wrk()
    if exe is None:
        raise SystemExit("wrk is not available")
    dsn = admin_dsn()
    name = f"medaid_bench_{uuid.uuid4().hex[:8]}_eligibility"
    tmp = Path(tempfile.mkdtemp(prefix="medaid-elig-"))
    processes: list[ServiceProcess] = []
    results: dict[str, Any] = {}
    admin_sql(dsn, f'CREATE DATABASE "{name}"')
    try:
        patients = make_patients(args.patients, seed=11)
        visits = make_visits(random.Random(20240611), date.today())
        datafile = tmp / "data.lua"
        write_lua_data(datafile, patients, visits, [])
        read_token = secrets.token_urlsafe(32)
        env = {
            "REGISTRY_ENV": "prod",
            "REGISTRY_DATABASE_URL": with_database(dsn, name),
            "REGISTRY_ADMIN_TOKEN": secrets.token_urlsafe(32),
            "REGISTRY_READ_TOKENS": f"settlement:{read_token}",
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        log("registry: migrate, import the patients' CSV, serve")
        run_cli("medaid-registry", ["migrate"], env)
        csv_path = tmp / "registry.csv"
        csv_path.write_text(registry_csv(patients), encoding="utf-8")
        run_cli("medaid-registry", ["import", str(csv_path)], env, timeout=600)
        registry = ServiceProcess.serve("medaid-registry", env, log_path=tmp / "registry.log")
        processes.append(registry.start(timeout=60))
        bare = ServiceProcess(
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
            {"BASELINE_DATABASE_URL": with_database(dsn, name)},
            log_path=tmp / "bare.log",
            name="bare",
        )
        processes.append(bare.start(timeout=60))

        wrk = Wrk(exe, connections=args.connections, threads=args.threads, duration=args.duration)
        on = visits[0][1]
        plan = [
            ("bare", bare, "unused-token"),
            ("eligibility", registry, read_token),
        ]
        for label, process, token in plan:
            script_args = [str(datafile), token, on]
            if args.warmup > 0:
                wrk.run(process.base_url, "eligibility.lua", script_args, duration=args.warmup)
            log(f"load: {label} for {args.duration:g} s at {args.connections} connections")
            r = wrk.run(process.base_url, "eligibility.lua", script_args, watch_pid=process.pid)
            results[label] = r
            log(
                f"  {r['per_second']}/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
                f"non-2xx {r['non_2xx']} {r['statuses']} "
                f"server CPU {r.get('server_cpu_ms_per_request')} ms/req "
                f"(+{r.get('postgres_cpu_ms_per_request')} ms PostgreSQL) "
                f"cores busy {r.get('cores_busy')}"
            )
        if results["bare"]["per_second"]:
            ratio = results["eligibility"]["per_second"] / results["bare"]["per_second"]
            results["ratio_eligibility_bare"] = round(ratio, 3)
            log(f"ratio eligibility/bare: {ratio:.3f}")

        if args.profile and shutil.which("py-spy", path=str(VENV_BIN)):
            seconds = max(5.0, min(args.duration, 15.0))
            raw = tmp / "registry-profile.txt"
            spy = subprocess.Popen(
                [
                    str(VENV_BIN / "py-spy"),
                    "record",
                    "--gil",
                    "--nonblocking",
                    "--full-filenames",
                    "--function",
                    "-r",
                    "200",
                    "-d",
                    str(int(seconds)),
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "--pid",
                    str(registry.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(0.5)
            wrk.run(
                registry.base_url,
                "eligibility.lua",
                [str(datafile), read_token, on],
                duration=seconds,
            )
            spy.communicate(timeout=60)
            if raw.exists():
                RESULTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(raw, RESULTS / "eligibility-profile.txt")
                results["profile"] = summarise_profile(raw)
                profile = results["profile"]
                print("registry process, on-CPU samples by component (self %):")
                for component, pct in list(profile["self_by_component_pct"].items())[:14]:
                    print(f"  {pct:5.1f}  {component}")
                print("inclusive:")
                for row in profile["inclusive_top_pct"][:25]:
                    print(f"  {row['pct']:5.1f}  {row['function']}")
    finally:
        for process in reversed(processes):
            try:
                process.stop()
            except Exception as exc:
                log(f"stopping {process.name}: {exc}")
        admin_sql(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eligibility.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"written: {RESULTS / 'eligibility.json'}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
