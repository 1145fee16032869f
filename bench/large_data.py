"""The large-data figures, each against its goal, on PostgreSQL:

* the fund report over a year of 1,000,000 bills, slowest grouping (``bench/report_bench.py``,
  ``GET /v1/reports/funds`` in process) — goal 1 s;
* the policy what-if over a year of 100,000 bills (``bench/simulation_bench.py``,
  ``POST /v1/policies/simulate`` in process) — goal 5 s;
* detail reconciliation of a 100,000-bill day, slower of TSV and JSON books
  (``bench/reconcile_bench.py``, ``POST /v1/reconciliations/detail`` in process) — goal 5 s;
* a registry import of a 1,000,000-row CSV by ``medaid-registry import`` in a process of its
  own, wall time and peak RSS (``bench/registry_import.py --cli``) — goal 60 s.

Each script runs in a process of its own on a database of its own (created and dropped). Their
data take minutes to make, so ``make bench`` leaves them out: ``python -m bench.run --large``
adds them to its run, and ``python -m bench.large_data`` runs them alone; both record them in
``bench/results/latest.json`` under ``large_data`` (alone: that key only is replaced).

    python -m bench.large_data [--only report,what_if,reconciliation,registry_import]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"

FIGURES: dict[str, tuple[str, list[str], float, str]] = {
    "report": (
        "report_bench",
        ["--runs", "3"],
        1.0,
        r"RESULT report over a year: (?P<seconds>[\d.]+) s slowest",
    ),
    "what_if": (
        "simulation_bench",
        ["--runs", "3"],
        5.0,
        r"RESULT what-if \d+ bills: (?P<seconds>[\d.]+) s .*CPU (?P<cpu_s>[\d.]+) s",
    ),
    "reconciliation": (
        "reconcile_bench",
        ["--runs", "3"],
        5.0,
        r"RESULT reconcile \d+ bills: (?P<tsv_s>[\d.]+) s \(TSV\), (?P<json_s>[\d.]+) s",
    ),
    "registry_import": (
        "registry_import",
        ["--cli", "--rows", "1000000"],
        60.0,
        r"RESULT registry import \d+ rows: (?P<seconds>[\d.]+) s .*CPU (?P<cpu_s>[\d.]+) s, "
        r"peak RSS (?P<peak_rss_mib>\d+) MiB, server CPU (?P<server_cpu_s>[\d.]+) s",
    ),
}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_figure(name: str) -> dict[str, Any]:
    """Run one script; its figure (seconds; the reconciliation's is the slower of its TSV and
    JSON books), the goal, whether it is met, and the 1-minute load average before and after."""
    module, args, goal, pattern = FIGURES[name]
    print(f"[large data] {name}: python -m bench.{module} {' '.join(args)}", flush=True)
    before, started = load_average(), time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=3600,
        check=False,
    )
    output = result.stdout + result.stderr
    match = re.search(pattern, output)
    if result.returncode != 0 or match is None:
        return {"error": f"exit {result.returncode}", "output": output[-2000:]}
    figures = {k: float(v) for k, v in match.groupdict().items()}
    if "seconds" not in figures:
        figures["seconds"] = max(figures["tsv_s"], figures["json_s"])
    out = {
        **figures,
        "goal_s": goal,
        "met": figures["seconds"] <= goal,
        "load_average": [before, load_average()],
        "script_s": round(time.perf_counter() - started),
        "output": result.stdout.strip()[-1500:],
    }
    print(f"[large data] {name}: {figures} (goal {goal:g} s)", flush=True)
    return out


def run_all(names: list[str] | None = None) -> dict[str, Any]:
    return {name: run_figure(name) for name in names or list(FIGURES)}


def summary(results: dict[str, Any]) -> str:
    lines = []
    for name, r in results.items():
        if not isinstance(r, dict):  # the run's date
            continue
        if "seconds" not in r:
            lines.append(f"{name:16s} {r.get('error', '-')}")
            continue
        extra = f", peak RSS {r['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in r else ""
        lines.append(
            f"{name:16s} {r['seconds']:7.2f} s (goal {r['goal_s']:g} s: "
            f"{'met' if r['met'] else 'NOT met'}){extra}; load {r['load_average']}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(FIGURES)}")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else None
    unknown = set(names or ()) - set(FIGURES)
    if unknown:
        raise SystemExit(f"unknown figures: {', '.join(sorted(unknown))}")
    results = run_all(names)
    latest = RESULTS / "latest.json"
    recorded = json.loads(latest.read_text(encoding="utf-8")) if latest.exists() else {}
    recorded["large_data"] = {**recorded.get("large_data", {}), **results}
    recorded["large_data"]["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(parents=True, exist_ok=True)
    latest.write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print()
    print(summary(results))
    print(f"\nwritten: {latest} (large_data)")


if __name__ == "__main__":
    main()
