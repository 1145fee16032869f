"""Several worker processes behind one port (``serve --workers N``): how many by default, and
what the parent sets up for them.

uvicorn's supervisor runs the workers: the parent binds the port, starts N processes that
accept on the shared socket, restarts one that dies, and on SIGTERM or SIGINT passes SIGTERM to
each (each finishes its requests in flight, up to the graceful timeout) and exits 0 when all
have. The parent builds no app and runs no migration; each worker builds its own app from a
factory (its own database pool, caches and background tasks).

Metrics: with several workers the parent points ``PROMETHEUS_MULTIPROC_DIR`` at an empty
folder before the workers start (the operator's, emptied, or a temporary one it removes on
exit), so each worker's metrics are kept in files there and ``/metrics``, whichever worker
answers, reports the sum over all of them (see :mod:`shared.observability`).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
APP_ENV = "MEDAID_SERVE_APP"
"""The import string of the app factory each worker calls (``settlement.app:create_app``)."""
LOG_LEVEL_ENV = "MEDAID_SERVE_LOG_LEVEL"
JSON_LOGS_ENV = "MEDAID_SERVE_JSON_LOGS"
CGROUP_ROOT = Path("/sys/fs/cgroup")
HEALTHCHECK_S = 30
"""Seconds a worker may take to answer the supervisor's ping before it is killed and replaced.
uvicorn's default (5 s) is shorter than a worker's start on a busy machine: a new worker
answers only once it has imported the service (2-3 s of CPU), and on a loaded host that took
over 5 s, so every worker was killed before it started."""


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path | None = None) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (``1.5``), or None when there is none.

    cgroup v2: ``cpu.max`` (``"150000 100000"``: quota and period in µs; ``"max 100000"``: no
    limit) of the process's own cgroup (from ``/proc/self/cgroup``) or of ``root`` (inside a
    container the root is the container's cgroup). cgroup v1: ``cpu.cfs_quota_us`` (``-1``: no
    limit) over ``cpu.cfs_period_us``."""
    own = _own_cgroup(proc_cgroup or Path("/proc/self/cgroup"))
    for folder in (root / own, root) if own else (root,):
        text = _read(folder / "cpu.max")
        if text is not None:
            quota, _, period = text.partition(" ")
            return None if quota == "max" else _ratio(quota, period)
    for folder in (root / "cpu", root / "cpu,cpuacct"):
        quota_text = _read(folder / "cpu.cfs_quota_us")
        if quota_text is not None:
            period_text = _read(folder / "cpu.cfs_period_us") or "100000"
            return None if quota_text.startswith("-") else _ratio(quota_text, period_text)
    return None


def _own_cgroup(proc_cgroup: Path) -> str | None:
    for line in (_read(proc_cgroup) or "").splitlines():
        if line.startswith("0::/") and line != "0::/":
            return line.removeprefix("0::/")
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ratio(quota: str, period: str) -> float | None:
    try:
        value = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def available_cpus() -> int:
    """The CPUs this process may use: those of its affinity mask, capped by its cgroup's CPU
    quota rounded down (a container limited to 1.5 CPUs counts 1: a second worker would be
    throttled rather than served), at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        count = min(count, math.floor(limit))
    return max(1, count)


def default_workers(database_url: str) -> int:
    """``serve``'s worker count when none is given: one per available CPU
    (:func:`available_cpus`), but one on SQLite, whose single writer several processes would
    only queue behind (and time out on) instead of running in parallel."""
    return 1 if database_url.startswith("sqlite") else available_cpus()


@contextlib.contextmanager
def metrics_folder() -> Iterator[Path]:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` for the workers about to start, for as long as they
    run: the folder the operator named (created if missing, its ``*.db`` files of an earlier
    run removed), else a new temporary folder, removed afterwards."""
    given = os.environ.get(MULTIPROC_DIR_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    folder = Path(tempfile.mkdtemp(prefix="medaid-metrics-"))
    os.environ[MULTIPROC_DIR_ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_DIR_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def worker_app() -> Any:
    """The app of one worker (uvicorn calls this factory in each worker process): logging set
    up as the parent's (``MEDAID_SERVE_LOG_LEVEL``, ``MEDAID_SERVE_JSON_LOGS``), the live
    gauges of an earlier process with this pid dropped, then the service's factory
    (``MEDAID_SERVE_APP``) called with no arguments (it reads its settings from the
    environment)."""
    from prometheus_client.multiprocess import mark_process_dead
    from uvicorn.importer import import_from_string

    from shared.observability import configure_logging

    configure_logging(
        os.environ.get(LOG_LEVEL_ENV, "INFO"), json=os.environ.get(JSON_LOGS_ENV, "1") == "1"
    )
    mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
    return import_from_string(os.environ[APP_ENV])()


def run_workers(
    factory: str, workers: int, *, log_level: str, json_logs: bool, **options: Any
) -> None:
    """Serve ``factory`` (an import string) from ``workers`` processes under uvicorn's
    supervisor, with the metrics folder set up; returns when all have stopped. ``options``:
    the rest of ``uvicorn.run``'s arguments."""
    import uvicorn

    os.environ[APP_ENV] = factory
    os.environ[LOG_LEVEL_ENV] = log_level
    os.environ[JSON_LOGS_ENV] = "1" if json_logs else "0"
    with metrics_folder():
        uvicorn.run(
            "shared.workers:worker_app",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=HEALTHCHECK_S,
            log_level=log_level.lower(),
            **options,
        )
