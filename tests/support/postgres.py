"""Control of the machine's PostgreSQL cluster for fault tests: restart it, wait until ready.

The cluster is the one the whole suite shares (``127.0.0.1:5432``). A restart drops every open
connection of every test; pools built by ``shared.db.make_engine`` pre-ping and reconnect, and
``wait_until_ready`` blocks until the server accepts connections again, so later tests see a
working server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time


def cluster() -> tuple[str, str] | None:
    """``(version, name)`` of the local cluster managed by ``pg_ctlcluster``, or None."""
    if shutil.which("pg_ctlcluster") is None:
        return None
    found = sorted(glob.glob("/etc/postgresql/*/*/postgresql.conf"))
    if not found:
        return None
    version, name = found[0].split("/")[3:5]
    return version, name


def can_restart() -> bool:
    """True when this process may restart the local cluster (root, pg_ctlcluster present)."""
    return cluster() is not None and os.geteuid() == 0


def pg_isready(host: str = "127.0.0.1", port: int = 5432) -> bool:
    exe = shutil.which("pg_isready")
    if exe is None:
        import socket

        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False
    result = subprocess.run(
        [exe, "-h", host, "-p", str(port), "-t", "1"], capture_output=True, check=False
    )
    return result.returncode == 0


def wait_until_ready(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pg_isready():
            return
        time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL did not accept connections within {timeout} s")


def ctl(action: str, *, timeout: float = 60) -> None:
    """``pg_ctlcluster <version> <name> <action>`` (start, stop, restart)."""
    found = cluster()
    if found is None:
        raise RuntimeError("no pg_ctlcluster-managed cluster on this machine")
    version, name = found
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, "-m", "fast"]
        if action in ("stop", "restart")
        else ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
        check=True,
        capture_output=True,
        timeout=timeout,
    )


def restart(*, timeout: float = 60) -> None:
    """Restart the shared cluster (fast mode: open connections are dropped) and wait for it."""
    try:
        ctl("restart", timeout=timeout)
    finally:
        wait_until_ready(timeout)
