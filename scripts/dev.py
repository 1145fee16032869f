"""`make run`: the services on this machine with SQLite databases under ./var and demo data.

First the ports: ``MEDAID_REGISTRY_PORT`` (default 8001) and ``MEDAID_SETTLEMENT_PORT`` (default
8002) must be port numbers and free, else one line names the variable and nothing else
happens (``make run`` checks this even before it installs anything: ``--check-ports``).
Then, for each service in :func:`services`: run its set-up commands (migrate, seed the demo
data; safe to repeat), start ``<command> serve`` as a child process (logs in
``var/<name>.log``), wait for ``/healthz``; then print the API docs, the dev tokens and
commands to try, and wait. Ctrl-C or SIGTERM stops every child (SIGTERM: they finish
in-flight requests) and exits.

A service joins by adding a :class:`Service` to :func:`services`.

    python -m scripts.dev                 # check the ports, set up, serve
    python -m scripts.dev --check-ports   # only check the ports (standard library only)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[1]
VAR = REPO_ROOT / "var"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30

PORT_VARIABLES = {"registry": "MEDAID_REGISTRY_PORT", "settlement": "MEDAID_SETTLEMENT_PORT"}
DEFAULT_PORTS = {"registry": 8001, "settlement": 8002}
REGISTRY_ADMIN_TOKEN = "dev-registry-admin-token"
REGISTRY_READ_TOKEN = "dev-registry-read-token"
DEMO_CSV = "services/registry/src/registry/demo/demo.csv"
DEMO_EXITED = "370305197007210937"  # 孙立新, household H370305005, exited (脱贫) end of 2020
DEMO_POOR = "370305196503120119"  # 张建国, household H370305001, registered poor since 2016


@dataclass(frozen=True)
class Service:
    """One service as ``make run`` starts it."""

    name: str
    command: str  # console script in the virtualenv, e.g. ``medaid-registry``
    port: int
    env: dict[str, str]
    setup: Sequence[Sequence[str]] = ()  # sub-commands run before serving, in order
    hints: Callable[[Service], list[str]] = field(default=lambda service: [])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def _registry_hints(service: Service) -> list[str]:
    read = f"-H 'Authorization: Bearer {REGISTRY_READ_TOKEN}'"
    admin = f"-H 'Authorization: Bearer {REGISTRY_ADMIN_TOKEN}'"
    eligibility = f"{service.url}/v1/persons/{DEMO_EXITED}/eligibility"
    return [
        f"API docs:    {service.url}/docs",
        f"admin token: {REGISTRY_ADMIN_TOKEN}   (reads and writes)",
        f"read token:  {REGISTRY_READ_TOKEN}   (reads only; the settlement service's)",
        "try:",
        "  # a member of an exited household: categories before and after the exit (2020-12-31)",
        f"  curl -s {read} '{eligibility}?on=2019-06-01'",
        f"  curl -s {read} '{eligibility}?on=2022-06-01'",
        f"  curl -s {read} '{service.url}/v1/persons/{DEMO_POOR}/eligibility'",
        f"  curl -s {read} '{service.url}/v1/households/H370305005'",
        "  # import a CSV (here: validate the demo file only; drop dry_run to write)",
        f"  curl -s -X POST {admin} -H 'Content-Type: text/csv' \\",
        f"       --data-binary @{DEMO_CSV} '{service.url}/v1/imports?dry_run=true'",
    ]


SETTLEMENT_ADMIN_TOKEN = "dev-settlement-admin-token"
# The demo hospitals `medaid-settlement seed-demo` registers (code, name, published dev key).
SETTLEMENT_DEMO_HOSPITALS = (
    ("H370305001", "临淄区人民医院", "dev-hospital-key-H370305001"),
    ("H370305002", "淄博市中心医院", "dev-hospital-key-H370305002"),
)
DEMO_BILL = (
    '{"patient": {"id_number": "' + DEMO_POOR + '", "name": "张建国"},'
    ' "visit": {"visit_id": "ZY-DEMO-0001", "type": "inpatient", "admitted_on": "2026-03-02",'
    ' "discharged_on": "2026-03-12", "diagnoses": ["I21.9"]},'
    ' "items": [{"code": "310100001", "name": "床位费", "category": "A", "unit_price": "60.00",'
    ' "quantity": 10}, {"code": "XJ01CAA", "name": "头孢呋辛注射液", "category": "B",'
    ' "unit_price": "38.50", "quantity": 20}, {"code": "330100", "name": "手术费",'
    ' "category": "A", "unit_price": "18000.00", "quantity": 1}, {"code": "Z0001",'
    ' "name": "营养餐", "category": "C", "unit_price": "25.00", "quantity": 10}]}'
)


def _settlement_hints(service: Service) -> list[str]:
    code, _, key = SETTLEMENT_DEMO_HOSPITALS[0]
    hospital = f"-H 'Authorization: Bearer {key}'"
    lines = [
        f"API docs:    {service.url}/docs   (ReDoc: {service.url}/redoc)",
        f"admin page:  {service.url}/admin   (sign in with the admin token)",
        f"admin token: {SETTLEMENT_ADMIN_TOKEN}   (POST /v1/hospitals, /v1/regions, /v1/grants)",
        "hospital API keys (demo):",
    ]
    lines += [f"  {c} {name}: {k}" for c, name, k in SETTLEMENT_DEMO_HOSPITALS]
    return lines + [
        "try:",
        f"  # settle a demo bill of a registered poor patient at {code} (repeat it: same bill)",
        f"  curl -s -X POST {hospital} -H 'Idempotency-Key: demo-0001' \\",
        f"       -H 'Content-Type: application/json' {service.url}/v1/settlements \\",
        f"       -d '{DEMO_BILL}'",
        "  # the printable receipt: open the answer's receipt_url in a browser (no key needed,",
        "  # valid 24 h), or fetch it with the key (setl_id from the answer); the patient's totals",
        f"  curl -s {hospital} {service.url}/v1/settlements/<setl_id>/receipt > receipt.html",
        f"  curl -s {hospital} {service.url}/v1/persons/{DEMO_POOR}/accumulators",
    ]


def services(ports: dict[str, int], var: Path = VAR) -> list[Service]:
    """The services ``make run`` starts, on the given ports, with SQLite databases in
    ``var``."""
    return [
        Service(
            name="registry",
            command="medaid-registry",
            port=ports["registry"],
            env={
                "REGISTRY_ENV": "dev",
                "REGISTRY_DATABASE_URL": f"sqlite:///{var / 'registry.db'}",
                "REGISTRY_ADMIN_TOKEN": REGISTRY_ADMIN_TOKEN,
                "REGISTRY_READ_TOKENS": f"settlement:{REGISTRY_READ_TOKEN}",
            },
            setup=(("migrate",), ("seed-demo",)),
            hints=_registry_hints,
        ),
        Service(
            name="settlement",
            command="medaid-settlement",
            port=ports["settlement"],
            env={
                "SETTLEMENT_ENV": "dev",
                "SETTLEMENT_DATABASE_URL": f"sqlite:///{var / 'settlement.db'}",
                "SETTLEMENT_ADMIN_TOKEN": SETTLEMENT_ADMIN_TOKEN,
                "SETTLEMENT_REGISTRY_URL": f"http://{HOST}:{ports['registry']}",
                "SETTLEMENT_REGISTRY_TOKEN": REGISTRY_READ_TOKEN,
                # Receipt links (a bill's receipt_url) open in a browser on this machine.
                "SETTLEMENT_PUBLIC_URL": f"http://{HOST}:{ports['settlement']}",
            },
            setup=(("migrate",), ("seed-demo",)),
            hints=_settlement_hints,
        ),
    ]


class Stop(Exception):
    """Ctrl-C or SIGTERM: stop everything."""


def say(message: str = "") -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def executable(command: str) -> str:
    beside = Path(sys.executable).parent / command
    found = str(beside) if beside.exists() else shutil.which(command)
    if not found:
        raise SystemExit(f"{command} is not installed; run `make install` first")
    return found


def child_env(service: Service) -> dict[str, str]:
    env = dict(os.environ)
    env.update(service.env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def port_in_use(port: int) -> bool:
    """Something listens on the port, or it cannot be bound on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((HOST, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


class PortProblem(Exception):
    """A port setting that is not a number, is taken twice, or is in use (one line)."""


def ports_from_environment(environ: dict[str, str] | None = None) -> dict[str, int]:
    """Each service's port from its ``MEDAID_…_PORT`` variable (or the default), checked to be
    a port number, distinct and free. Raises :class:`PortProblem` naming the variable."""
    environ = dict(os.environ) if environ is None else environ
    ports: dict[str, int] = {}
    for name, variable in PORT_VARIABLES.items():
        raw = environ.get(variable, "").strip()
        if not raw:
            ports[name] = DEFAULT_PORTS[name]
            continue
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise PortProblem(f"{variable}={raw!r} is not a port number (1-65535)")
        ports[name] = int(raw)
    if ports["registry"] == ports["settlement"]:
        raise PortProblem(
            f"{PORT_VARIABLES['registry']} and {PORT_VARIABLES['settlement']} are both "
            f"{ports['registry']}; give the services different ports"
        )
    for name, port in ports.items():
        if port_in_use(port):
            variable = PORT_VARIABLES[name]
            raise PortProblem(
                f"port {port} for the {name} ({variable}) is already in use (another "
                f"`make run`?); stop that, or choose another: {variable}={port + 10} make run"
            )
    return ports


def run_setup(service: Service) -> None:
    for args in service.setup:
        say(f"{service.name}: {' '.join(args)}")
        result = subprocess.run(
            [executable(service.command), *args],
            cwd=REPO_ROOT,
            env=child_env(service),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(f"{service.name}: `{' '.join(args)}` failed")


def healthy(service: Service) -> bool:
    try:
        with urllib.request.urlopen(f"{service.url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[Service, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, service: Service) -> None:
        if port_in_use(service.port):
            raise SystemExit(
                f"{service.name}: port {service.port} ({PORT_VARIABLES[service.name]}) was "
                "taken while setting up; stop what uses it, or choose another port"
            )
        log_path = VAR / f"{service.name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(
            [executable(service.command), "serve", "--host", HOST, "--port", str(service.port)],
            cwd=REPO_ROOT,
            env=child_env(service),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the terminal's Ctrl-C reaches us only; we stop children
        )
        self.children.append((service, process, log))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(service):
            if process.poll() is not None:
                raise SystemExit(
                    f"{service.name} exited with status {process.returncode}; see {log_path}"
                )
            if time.monotonic() > deadline:
                raise SystemExit(f"{service.name} did not answer /healthz; see {log_path}")
            time.sleep(0.2)
        say(f"{service.name}: serving on {service.url} (pid {process.pid}, logs {log_path})")

    def watch(self) -> None:
        """Wait until a signal arrives or a child dies."""
        while True:
            for service, process, _ in self.children:
                if process.poll() is not None:
                    raise SystemExit(
                        f"{service.name} stopped unexpectedly (status {process.returncode}); "
                        f"see var/{service.name}.log"
                    )
            time.sleep(0.5)

    def stop(self) -> None:
        for _, process, _ in self.children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for service, process, log in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{service.name} did not stop in {STOP_TIMEOUT_S} s; killing it")
                process.kill()
                process.wait()
            log.close()
        self.children.clear()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        ports = ports_from_environment()  # before anything is installed, migrated or seeded
    except PortProblem as exc:
        sys.stderr.write(f"make run: {exc}\n")
        raise SystemExit(2) from None
    if args == ["--check-ports"]:
        return
    if args:
        raise SystemExit(f"usage: python -m scripts.dev [--check-ports] (not {' '.join(args)})")
    os.chdir(REPO_ROOT)
    VAR.mkdir(exist_ok=True)
    started = services(ports)
    supervisor = Supervisor()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        for service in started:
            run_setup(service)
        for service in started:
            supervisor.start(service)
        say()
        for service in started:
            say(f"== {service.name} ({service.url})")
            for line in service.hints(service):
                say(line)
            say()
        say("Ctrl-C stops everything.")
        supervisor.watch()
    except Stop:
        say("\nstopping…")
    finally:
        # No second signal may interrupt the shutdown of the children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()
    say("stopped")


if __name__ == "__main__":
    main()
