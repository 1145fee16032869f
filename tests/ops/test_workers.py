"""``medaid-<service> serve --workers 2`` as a real process: both workers serve, and
``/metrics``, whichever worker answers, counts the requests of both."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support.processes import ServiceProcess, executable, run_cli

pytestmark = pytest.mark.slow

HEALTHZ = re.compile(
    r'^medaid_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', re.M
)


def healthz_by_worker(folder: Path) -> dict[int, float]:
    """Each worker's count of ``GET /healthz`` 200, read from its own metrics file."""
    counts: dict[int, float] = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in metric.samples:
                if (
                    sample.name == "medaid_http_requests_total"
                    and sample.labels.get("route") == "/healthz"
                ):
                    counts[pid] = counts.get(pid, 0.0) + sample.value
    return counts


@pytest.mark.parametrize("service", ["registry", "settlement"])
def test_metrics_count_the_requests_of_every_worker(tmp_path: Path, service: str) -> None:
    metrics = tmp_path / "metrics"
    prefix = service.upper()
    env = {
        f"{prefix}_ENV": "dev",
        f"{prefix}_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        f"{prefix}_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    command = f"medaid-{service}"
    run_cli(command, ["migrate"], env)
    argv = [executable(command), "serve", "--host", "127.0.0.1", "--port", "{port}"]
    server = ServiceProcess([*argv, "--workers", "2"], env, log_path=tmp_path / "serve.log")
    made = 1  # the probe ServiceProcess.start waits on

    def healthz(_: int) -> int:
        with httpx.Client(timeout=10) as client:  # a new connection each time
            return client.get(f"{server.base_url}/healthz").status_code

    server.start(timeout=120)  # a worker starts slowly on a busy machine
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Until both workers have answered some (the kernel picks which one accepts).
            while len(healthz_by_worker(metrics)) < 2 and made < 2000:
                assert set(pool.map(healthz, range(40))) == {200}
                made += 40
        assert len(healthz_by_worker(metrics)) == 2, server.log_tail()
        scraped = [httpx.get(f"{server.base_url}/metrics", timeout=10).text for _ in range(6)]
    finally:
        assert server.stop(timeout=60) == 0
    totals = [float(m.group(1)) for text in scraped for m in [HEALTHZ.search(text)] if m]
    assert totals == [float(made)] * 6
    assert sum(healthz_by_worker(metrics).values()) == made
    # The temporary folder the operator named is kept; the parent did not write its own.
    assert metrics.is_dir()
