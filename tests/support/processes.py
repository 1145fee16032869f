"""Start, watch and stop the services as real processes, the way ops teams run them.

``ServiceProcess`` runs ``.venv/bin/medaid-<service> serve --host 127.0.0.1 --port N`` (one
worker unless told) with a given environment, waits for ``/healthz`` and stops it with SIGTERM
(or SIGKILL to simulate a crash). ``run_cli`` runs the other sub-commands (``migrate``,
``hospital add``, ``import``). Used by the fault tests and by ``bench/run.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = (
    Path(sys.executable).parent
    if (Path(sys.executable).parent / "medaid-settlement").exists()
    else REPO_ROOT / ".venv" / "bin"
)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def executable(name: str) -> str:
    """Path of a console script installed in the virtualenv (``medaid-settlement``)."""
    path = VENV_BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is not installed (run `make install`)")
    return str(path)


def service_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The current environment without any ``REGISTRY_``/``SETTLEMENT_`` settings, plus
    ``extra``: a test's service sees exactly the settings the test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "SETTLEMENT_"))}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_cli(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``medaid-<service> <args>`` to completion; raises with its output on failure."""
    result = subprocess.run(
        [executable(command), *args],
        env=service_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{command} {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def wait_for_http(
    url: str, *, timeout: float = 30, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    last: str = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s ({last})")


class ServiceProcess:
    """One service process (``serve``) on a free loopback port, its output in a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        port: int | None = None,
        log_path: Path | None = None,
        health_path: str = "/healthz",
        name: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.env = service_env(env)
        self.health_path = health_path
        self.name = name or Path(self.argv[0]).name
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def serve(
        cls,
        command: str,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        log_path: Path | None = None,
        workers: int = 1,
    ) -> ServiceProcess:
        """``medaid-<service> serve --host 127.0.0.1 --port N --workers 1`` (not started yet;
        one worker unless told: :meth:`kill` must end every process that serves the port)."""
        return cls(
            [
                executable(command),
                *("serve", "--host", "127.0.0.1", "--port", "{port}"),
                *("--workers", str(workers)),
            ],
            env,
            port=port,
            log_path=log_path,
            name=command,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, timeout: float = 30) -> ServiceProcess:
        """Start the process (again, on the same port) and wait until it is healthy."""
        if self.running():
            raise RuntimeError(f"{self.name} is already running")
        out: Any = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        finally:
            if self.log_path:
                out.close()
        try:
            wait_for_http(self.base_url + self.health_path, timeout=timeout, process=self.proc)
        except BaseException:
            self.kill()
            raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}") from None
        return self

    def stop(self, *, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL to the process and its workers (its session): a crash, with no chance to
        finish requests or close connections."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
