"""Throw-away PostgreSQL servers for the cluster tests: a primary and a synchronous standby,
and a PgBouncer in front of a server, each on a free port in a temporary folder.

They are Debian's binaries (``/usr/lib/postgresql/<version>/bin``, ``/usr/sbin/pgbouncer``)
run as the ``postgres`` OS user: through ``runuser`` when the suite runs as root, directly
when it runs as ``postgres``. :func:`missing` says why they cannot run here (the tests skip
with that reason, or fail under ``REQUIRE_POSTGRES=1``).

Replication is set up the way an operator would: ``initdb`` with trust authentication on
the loopback interface, ``pg_basebackup -R`` for the standby, then the primary's
``synchronous_standby_names = '*'`` set with ``ALTER SYSTEM`` once the standby streams, so a
commit returns only after the standby has the WAL. The setting lives on the primary only, as
Patroni and CloudNativePG keep it: a standby promoted alone does not wait for a standby it
does not have.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest

from tests.support.processes import free_port

OS_USER = "postgres"
HOST = "127.0.0.1"
PGBOUNCER = "/usr/sbin/pgbouncer"


def require(reason: str | None) -> None:
    """Skip with ``reason`` (fail under ``REQUIRE_POSTGRES=1``) when it is not None."""
    if reason is None:
        return
    from tests.conftest import REQUIRE_POSTGRES

    if REQUIRE_POSTGRES:
        pytest.fail(f"{reason} and REQUIRE_POSTGRES=1", pytrace=False)
    pytest.skip(f"{reason}; cluster tests skipped (set REQUIRE_POSTGRES=1 to fail)")


def bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding the server binaries."""
    found = [
        Path(p)
        for p in glob.glob("/usr/lib/postgresql/*/bin")
        if all((Path(p) / exe).exists() for exe in ("initdb", "pg_ctl", "pg_basebackup"))
    ]
    if not found:
        return None
    return max(found, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))


def _can_become_postgres() -> str | None:
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return f"no {OS_USER!r} OS user to run PostgreSQL as"
    if os.geteuid() == 0:
        return None if shutil.which("runuser") else "runuser is missing"
    if pwd.getpwuid(os.geteuid()).pw_name != OS_USER:
        return f"the tests run neither as root nor as {OS_USER!r}"
    return None


def missing_postgres() -> str | None:
    """Why a primary and a standby cannot be started here, or None."""
    if bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) not found"
    return _can_become_postgres()


def missing_pgbouncer() -> str | None:
    """Why a PgBouncer cannot be started here, or None."""
    if not os.access(PGBOUNCER, os.X_OK):
        return f"{PGBOUNCER} not found (Debian package pgbouncer)"
    return _can_become_postgres()


def as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def run(argv: list[str], *, cwd: Path, timeout: float = 120) -> str:
    """Run a command as the postgres user; raises with its output when it fails."""
    result = subprocess.run(
        as_postgres(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def make_root(prefix: str) -> Path:
    """A temporary folder owned by the postgres user (pytest's own are private to root)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    user = pwd.getpwnam(OS_USER)
    if os.geteuid() == 0:
        os.chown(root, user.pw_uid, user.pw_gid)
    return root


def remove_root(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def _sql(dsn: str, *statements: str) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            rows: list[asyncpg.Record] = []
            for statement in statements:
                rows = await conn.fetch(statement)
            return rows
        finally:
            await conn.close()

    return asyncio.run(go())


class Server:
    """One PostgreSQL server (a data directory and a port), controlled with ``pg_ctl``."""

    def __init__(self, root: Path, name: str, port: int | None = None) -> None:
        self.root = root
        self.name = name
        self.datadir = root / name
        self.port = port or free_port()
        self.log = root / f"{name}.log"
        bin_ = bindir()
        assert bin_ is not None
        self.bin = bin_

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{OS_USER}@{HOST}:{self.port}/{database}"

    def _ctl(self, *args: str, timeout: float = 120) -> str:
        return run(
            [str(self.bin / "pg_ctl"), "-D", str(self.datadir), *args],
            cwd=self.root,
            timeout=timeout,
        )

    def configure(self, **settings: str) -> None:
        """Append settings to ``postgresql.conf`` (the last value of a name wins)."""
        lines = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as handle:
            handle.write("\n# medaid cluster test\n" + lines)

    def initdb(self) -> Server:
        run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                OS_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            cwd=self.root,
        )
        self.configure(**self.base_settings())
        return self

    def base_settings(self) -> dict[str, str]:
        return {
            "port": str(self.port),
            "listen_addresses": HOST,
            "unix_socket_directories": str(self.root),
            "shared_buffers": "32MB",
            "max_connections": "200",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "wal_keep_size": "128MB",
            "log_min_messages": "warning",
        }

    def base_backup_to(self, name: str) -> Server:
        """A standby of this server: ``pg_basebackup -R`` (streaming, ``standby.signal``)."""
        standby = Server(self.root, name)
        run(
            [
                str(self.bin / "pg_basebackup"),
                "-D",
                str(standby.datadir),
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-U",
                OS_USER,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            cwd=self.root,
        )
        standby.configure(
            **{**standby.base_settings(), "port": str(standby.port)},
        )
        auto = standby.datadir / "postgresql.auto.conf"
        with open(auto, "a", encoding="utf-8") as handle:
            # Named, so the primary's pg_stat_replication shows which standby is which.
            handle.write(
                f"primary_conninfo = 'host={HOST} port={self.port} user={OS_USER} "
                f"application_name={name}'\n"
            )
        return standby

    def start(self) -> Server:
        self._ctl("start", "-w", "-t", "60", "-l", str(self.log))
        return self

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m <mode>``; ``immediate`` is a crash (no checkpoint, clients cut)."""
        self._ctl("stop", "-w", "-m", mode)

    def stop_quietly(self) -> None:
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._ctl("stop", "-w", "-m", "immediate", timeout=30)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass

    def promote(self) -> None:
        """``pg_ctl promote -w``: returns once the standby accepts writes."""
        self._ctl("promote", "-w", "-t", "60")

    def sql(self, *statements: str, database: str = "postgres") -> list[asyncpg.Record]:
        """Run statements on a connection of their own (from a thread without a loop)."""
        return _sql(self.dsn(database), *statements)

    def in_recovery(self) -> bool:
        return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Pair:
    """A primary and a synchronous standby, streaming."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.primary = Server(root, "node1")
        self.standby: Server | None = None

    def start(self) -> Pair:
        self.primary.initdb().start()
        standby = self.primary.base_backup_to("node2")
        self.standby = standby
        standby.start()
        self.primary.sql(
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
            "ALTER SYSTEM SET synchronous_commit = 'on'",
            "SELECT pg_reload_conf()",
        )
        self.wait_synchronous()
        return self

    def wait_synchronous(self, timeout: float = 60) -> None:
        """Until the primary names the standby its synchronous standby."""
        deadline = time.monotonic() + timeout
        state: list[asyncpg.Record] = []
        while time.monotonic() < deadline:
            state = self.primary.sql(
                "SELECT application_name, state, sync_state FROM pg_stat_replication"
            )
            if any(r["state"] == "streaming" and r["sync_state"] == "sync" for r in state):
                return
            time.sleep(0.2)
        raise TimeoutError(f"the standby never became synchronous: {[dict(r) for r in state]}")

    def url(self, database: str, **options: str) -> str:
        """The multi-host URL of both servers, primary first."""
        assert self.standby is not None
        query = "&".join(
            f"{k}={v}" for k, v in {"target_session_attrs": "read-write", **options}.items()
        )
        return (
            f"postgresql://{OS_USER}@{HOST}:{self.primary.port},{HOST}:{self.standby.port}"
            f"/{database}?{query}"
        )

    def stop(self) -> None:
        for server in (self.primary, self.standby):
            if server is not None:
                server.stop_quietly()


class Pgbouncer:
    """Debian's PgBouncer in front of one server, with a generated ini file.

    ``auth_type = any``: every client logs in as the user the ``[databases]`` entry names (the
    server trusts the loopback interface), so no password file is needed."""

    def __init__(
        self,
        root: Path,
        *,
        server_port: int,
        pool_mode: str = "transaction",
        pool_size: int = 10,
        max_client_conn: int = 400,
        user: str = OS_USER,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.ini = root / "pgbouncer.ini"
        self.log = root / "pgbouncer.log"
        self.pidfile = root / "pgbouncer.pid"
        self.pool_size = pool_size
        self.proc: subprocess.Popen[bytes] | None = None
        settings = {
            "listen_addr": HOST,
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "any",
            "pool_mode": pool_mode,
            "default_pool_size": str(pool_size),
            "max_client_conn": str(max_client_conn),
            "max_db_connections": str(pool_size),
            "logfile": str(self.log),
            "pidfile": str(self.pidfile),
            "log_connections": "0",
            "log_disconnections": "0",
        }
        self.ini.write_text(
            "[databases]\n"
            f"* = host={HOST} port={server_port} user={user}\n\n"
            "[pgbouncer]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()),
            encoding="utf-8",
        )
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(self.ini, entry.pw_uid, entry.pw_gid)

    @staticmethod
    def version() -> str:
        out = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True, check=False)
        first = (out.stdout or out.stderr).splitlines()
        return first[0].split()[-1] if first else "unknown"

    def url(self, database: str, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"postgresql://{OS_USER}@{HOST}:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )

    def start(self, timeout: float = 20) -> Pgbouncer:
        self.proc = subprocess.Popen(
            as_postgres([PGBOUNCER, str(self.ini)]),
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        import socket

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"pgbouncer did not listen within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # runuser passes the signal on to pgbouncer; SIGINT is its "safe shutdown".
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
