"""SIGTERM: the server finishes the requests in flight, then exits cleanly.

Serves the demo app from a real process with :func:`shared.observability.serve`, the way the
services' ``serve`` commands run under a container runtime or Kubernetes.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, proc: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.communicate()[1]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_sigterm_finishes_the_request_in_flight(tmp_path: Path, workers: int) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    code = (
        "from shared.observability import serve; "
        f"serve('tests.ops.demo_app:create_app', host='127.0.0.1', port={port}, factory=True, "
        f"workers={workers})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(base, proc, timeout=120)  # a worker starts slowly on a busy machine
        result: dict[str, object] = {}

        def slow_call() -> None:
            try:
                response = httpx.get(f"{base}/slow", params={"seconds": 1.5}, timeout=10)
                result["status"] = response.status_code
                result["body"] = response.json()
            except httpx.HTTPError as exc:  # pragma: no cover - reported by the assert
                result["error"] = repr(exc)

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.5)  # the request is now being served
        proc.send_signal(signal.SIGTERM)
        caller.join(timeout=10)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert result == {"status": 200, "body": {"status": "done"}}
    # uvicorn shuts down gracefully, then re-raises the signal: "terminated by SIGTERM" is
    # the clean exit a container runtime expects (status 143). With several workers the
    # parent passes SIGTERM on, waits for every worker and exits 0.
    assert proc.returncode in ((0, -signal.SIGTERM) if workers == 1 else (0,)), stderr
    # Everything the process logged is one JSON object per line, the slow request included.
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    slow = [r for r in records if r.get("logger") == "medaid.access" and r["route"] == "/slow"]
    assert [(r["status"], r["method"]) for r in slow] == [(200, "GET")]
    events = [str(r["event"]) for r in records]
    assert sum("Finished server process" in e for e in events) == workers, events
