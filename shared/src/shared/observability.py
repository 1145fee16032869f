"""Health, readiness, metrics and request logging shared by the services.

Each service's ``create_app`` calls :func:`install_observability` once, after its other
``add_middleware`` calls (so the request log and the request id wrap every response, the
body-size 413 included). It adds:

- ``GET /healthz``: the process is up (no I/O).
- ``GET /readyz``: the service's readiness check (database, and for settlement the registry);
  200 with the checks, or 503 ``application/problem+json`` naming what failed.
- ``GET /metrics``: Prometheus text format from a registry of the app's own (two apps in one
  process never share counters): requests by route template and status, latency histograms,
  requests in flight, and what the services record through :func:`record_settlement`,
  :func:`record_revoke`, :func:`record_registry_call` and :func:`observe_db_pool`.
- One JSON log line per request (``method``, ``route`` template, ``status``, ``duration_ms``,
  ``request_id``) from a pure ASGI middleware. The request id comes from ``X-Request-ID`` or is
  made, is echoed in the response header and is available as :func:`current_request_id` (the
  settlement service passes it on to the registry with :func:`request_id_headers`).

Privacy: the log carries the route template (``/v1/persons/{id_number}/...``), never the raw
path, never a request body and never a header. :func:`configure_logging` renders every log
record (the services', uvicorn's, SQLAlchemy's) through a redaction step as defence in depth:
anything shaped like a resident ID number is masked, bearer tokens, API keys, URL passwords
and the secrets registered with :func:`register_secrets` are replaced by ``[REDACTED]``.

Metrics recorded by the services go to the app serving the current request (a context
variable set by the middleware); outside a request they are dropped.

Several workers (``serve --workers N``, :mod:`shared.workers`): with ``PROMETHEUS_MULTIPROC_DIR``
set, each worker keeps its values in files there (prometheus_client's multiprocess mode) and
``/metrics``, whichever worker answers, reports them merged: counters and histograms summed
over every worker that ever ran (a worker that exited still counts), the gauges summed over the
live workers (``livesum``). The pool gauges cannot be read at scrape time in the other workers,
so each worker writes its pools' readings at most once a second, at the end of a request, and
at each scrape it answers: the sum is as of each worker's last request. When a worker exits,
its gauges are dropped at the next scrape.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol

import structlog
from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import Problem, ServiceUnavailable, problem_response

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
"""Returns ``{"database": "ok", ...}``; raises (any exception) when not ready. Raise
:class:`NotReady` (or use :func:`run_checks`) to say which check failed."""

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()
READINESS_TIMEOUT_S = 3.0
"""A readiness check that takes longer counts as failed (keep probe timeouts above this)."""

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "medaid_request_id", default=None
)
access_log = logging.getLogger("medaid.access")


# --------------------------------------------------------------------------- request ids


_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    return _request_id.get()


def request_id_headers() -> dict[str, str]:
    """``{"X-Request-ID": id}`` for an outgoing call made while serving a request, else ``{}``."""
    rid = _request_id.get()
    return {REQUEST_ID_HEADER: rid} if rid else {}


class _HasHeaders(Protocol):
    @property
    def headers(self) -> MutableMapping[str, str]: ...


async def propagate_request_id(request: _HasHeaders) -> None:
    """An httpx ``event_hooks={"request": [propagate_request_id]}`` hook: adds the current
    request id to every outgoing request that does not carry one."""
    rid = _request_id.get()
    if rid and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1").strip()
            # Accept a caller's id only if it is short, plain and carries nothing redactable.
            if _REQUEST_ID_OK.match(candidate) and redact_text(candidate) == candidate:
                return candidate
            break
    return secrets.token_hex(16)  # 32 hex digits, like a UUID4 in hex, cheaper


# --------------------------------------------------------------------------- redaction


REDACTED = "[REDACTED]"
_ID_NUMBER = re.compile(r"(?<![0-9])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_API_KEY = re.compile(r"\bmk_[A-Za-z0-9_\-]{16,}")
_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://[^:/@\s]*):[^@/\s]+@")
_SECRET_FIELD = re.compile(
    r"(?i)(authorization|token|api[_-]?key|password|passwd|secret|cookie|credential)"
)
_registered_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secrets(*values: str | None) -> None:
    """Make the log redaction replace these exact values (admin and read tokens, the registry
    token) wherever they appear. Values shorter than 8 characters are ignored."""
    global _secret_pattern
    _registered_secrets.update(v for v in values if v and len(v) >= 8)
    if _registered_secrets:
        alternatives = sorted(_registered_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(v) for v in alternatives))


def redact_text(text: str) -> str:
    """Mask ID numbers (first 6 and last 4 kept) and replace tokens and passwords."""
    if _secret_pattern is not None:
        text = _secret_pattern.sub(REDACTED, text)
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _API_KEY.sub(REDACTED, text)
    return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_FIELD.search(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    if isinstance(value, int | float | bool | Decimal) or value is None:
        return value
    return redact_text(str(value))


def redact_event(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: :func:`redact_text` over every value, ``[REDACTED]`` for fields
    whose name says they hold a secret."""
    for key in list(event_dict):
        if key in ("level", "logger", "ts", "request_id"):
            continue
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


# --------------------------------------------------------------------------- logging


def _add_request_id(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    rid = _request_id.get()
    if rid and "request_id" not in event_dict:
        event_dict["request_id"] = rid
    return event_dict


def _add_record_fields(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    record = event_dict.get("_record")
    fields = getattr(record, "medaid", None)
    if isinstance(fields, Mapping):
        for key, value in fields.items():
            event_dict.setdefault(key, value)
    return event_dict


class _MedaidHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`configure_logging` installs, so a second call replaces it."""


def configure_logging(
    level: str | int = "INFO", json: bool = True, *, stream: IO[str] | None = None
) -> None:
    """Send every log record (stdlib and structlog) to ``stream`` (stderr) as one line each,
    JSON by default (``json=False``: a readable console format), through the redaction step.

    Quietens loggers that would print URLs (httpx, httpcore) and uvicorn's access log (the
    request log of :func:`install_observability` replaces it).
    """
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts")
    pre_chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
        _add_record_fields,
        _add_request_id,
    ]
    structlog.configure(
        processors=[*pre_chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_event,
            renderer,
        ],
    )
    handler = _MedaidHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _MedaidHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        # uvicorn's own handlers (if its log config was applied) would bypass redaction.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


# --------------------------------------------------------------------------- metrics


class Pooled(Protocol):
    """Anything with a connection pool read like SQLAlchemy's (an engine, a ``Database``)."""

    @property
    def pool(self) -> Any: ...


POOL_GAUGES = (
    ("medaid_db_pool_size", "Connections the pool keeps open", "size"),
    ("medaid_db_pool_checked_out", "Connections in use by requests", "checkedout"),
    ("medaid_db_pool_checked_in", "Idle connections in the pool", "checkedin"),
    ("medaid_db_pool_overflow", "Connections opened above the pool size", "overflow"),
)
POOL_SAMPLE_S = 1.0
"""With several workers: how often (at most) a worker writes its pools' readings."""


def _pool_readings(engines: Mapping[str, Pooled], method: str) -> Iterator[tuple[str, float]]:
    for pool_name, engine in engines.items():
        reader = getattr(engine.pool, method, None)
        if callable(reader):
            yield pool_name, float(reader())


class _PoolCollector(Collector):
    """Reads the connection pools of the registered engines at scrape time."""

    def __init__(self) -> None:
        self.engines: dict[str, Pooled] = {}

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families(read=True))

    def _families(self, read: bool = False) -> Iterator[GaugeMetricFamily]:
        for name, doc, method in POOL_GAUGES:
            family = GaugeMetricFamily(name, doc, labels=["pool"])
            if read:
                for pool_name, value in _pool_readings(self.engines, method):
                    family.add_metric([pool_name], value)
            yield family


class _PoolGauges:
    """The pool gauges with several workers: each worker's readings written to its gauge
    files (``livesum``: the merged value is the sum over the live workers), at most every
    :data:`POOL_SAMPLE_S` seconds unless forced."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.engines: dict[str, Pooled] = {}
        self.gauges = [
            (Gauge(name, doc, ["pool"], registry=registry, multiprocess_mode="livesum"), method)
            for name, doc, method in POOL_GAUGES
        ]
        self.due = 0.0

    def sample(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self.due:
            return
        self.due = now + POOL_SAMPLE_S
        for gauge, method in self.gauges:
            for pool_name, value in _pool_readings(self.engines, method):
                gauge.labels(pool=pool_name).set(value)


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges (``gauge_live*_<pid>.db``) of worker processes that have exited."""
    from prometheus_client.multiprocess import mark_process_dead

    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            continue


class ServiceMetrics:
    """The Prometheus metrics of one app, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "medaid_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "medaid_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "medaid_http_requests_in_flight",
            "HTTP requests being served",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.settlements = Counter(
            "medaid_settlements", "Bills settled (idempotent replays not counted)", registry=r
        )
        self.revokes = Counter(
            "medaid_settlement_revokes", "Bills revoked (repeat revokes not counted)", registry=r
        )
        self.fund_payments = Counter(
            "medaid_settlement_fund_payments",
            "Fund rows of settled bills, by fund code",
            ["fund"],
            registry=r,
        )
        self.fund_amount = Counter(
            "medaid_settlement_fund_paid_yuan",
            "Amount paid by each fund in settled bills (yuan)",
            ["fund"],
            registry=r,
        )
        self.fund_revoked_amount = Counter(
            "medaid_settlement_fund_revoked_yuan",
            "Amount given back to each fund by revokes (yuan)",
            ["fund"],
            registry=r,
        )
        self.registry_calls = Counter(
            "medaid_registry_calls",
            "Calls to the registry by outcome (ok, not_found, timeout, unavailable, error)",
            ["outcome"],
            registry=r,
        )
        self.registry_latency = Histogram(
            "medaid_registry_call_duration_seconds",
            "Latency of calls to the registry by outcome",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        """Set when the workers keep their metrics in files (several workers)."""
        self.pools: _PoolCollector | _PoolGauges
        if self.multiproc_dir:
            self.pools = _PoolGauges(r)
        else:
            self.pools = _PoolCollector()
            r.register(self.pools)
        # Each labelled child looked up once: ``labels()`` checks its arguments and takes a
        # lock on every call. The keys are bounded (methods, route templates, statuses, fund
        # codes), like the children prometheus_client keeps anyway.
        self._served: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._paid: dict[str, tuple[Counter, Counter]] = {}

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered HTTP request: its count and its latency."""
        key = (method, route, status)
        children = self._served.get(key)
        if children is None:
            children = (
                self.requests.labels(method=method, route=route, status=str(status)),
                self.latency.labels(method=method, route=route),
            )
            self._served[key] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)

    def record_settlement(self, funds: Iterable[tuple[str, Decimal]]) -> None:
        self.settlements.inc()
        for fund, amount in funds:
            children = self._paid.get(fund)
            if children is None:
                children = (
                    self.fund_payments.labels(fund=fund),
                    self.fund_amount.labels(fund=fund),
                )
                self._paid[fund] = children
            payments, paid = children
            payments.inc()
            # Metrics are approximate by nature; the books stay in Decimal.
            paid.inc(float(amount))

    def record_revoke(self, funds: Iterable[tuple[str, Decimal]]) -> None:
        self.revokes.inc()
        for fund, amount in funds:
            self.fund_revoked_amount.labels(fund=fund).inc(float(amount))

    def record_registry_call(self, outcome: str, seconds: float) -> None:
        self.registry_calls.labels(outcome=outcome).inc()
        self.registry_latency.labels(outcome=outcome).observe(seconds)

    def observe_db_pool(self, engine: Pooled, name: str = "main") -> None:
        self.pools.engines[name] = engine

    def sample_pools(self) -> None:
        """With several workers: write this worker's pool readings (at most once a second)."""
        if isinstance(self.pools, _PoolGauges):
            self.pools.sample()

    def render(self) -> bytes:
        """The Prometheus text: this app's registry, or with several workers every worker's
        values merged."""
        if not self.multiproc_dir:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        assert isinstance(self.pools, _PoolGauges)
        self.pools.sample(force=True)
        _forget_dead_workers(self.multiproc_dir)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, self.multiproc_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


_current_metrics: contextvars.ContextVar[ServiceMetrics | None] = contextvars.ContextVar(
    "medaid_metrics", default=None
)


def metrics_for(app: FastAPI) -> ServiceMetrics:
    """The metrics :func:`install_observability` created for ``app``."""
    metrics = getattr(app.state, "medaid_metrics", None)
    if not isinstance(metrics, ServiceMetrics):
        raise RuntimeError("install_observability() has not been called on this app")
    return metrics


def _fund_pairs(funds: Mapping[str, Decimal] | Iterable[tuple[str, Decimal]]) -> list[Any]:
    return list(funds.items()) if isinstance(funds, Mapping) else list(funds)


def record_settlement(funds: Mapping[str, Decimal] | Iterable[tuple[str, Decimal]]) -> None:
    """Count one newly settled bill and what each fund paid in it: ``{fund_code: amount}`` or
    ``[(fund_pay_type, fund_payamt), ...]`` from ``setldetail``. Call it once when the bill is
    written (not for an idempotent replay)."""
    metrics = _current_metrics.get()
    if metrics is not None:
        metrics.record_settlement(_fund_pairs(funds))


def record_revoke(funds: Mapping[str, Decimal] | Iterable[tuple[str, Decimal]]) -> None:
    """Count one bill newly revoked and the amounts given back to each fund (not for a repeat
    revoke of an already revoked bill)."""
    metrics = _current_metrics.get()
    if metrics is not None:
        metrics.record_revoke(_fund_pairs(funds))


def record_registry_call(outcome: str, seconds: float) -> None:
    """Count one HTTP attempt to the registry (cache hits are not calls). ``outcome``: ``ok``,
    ``not_found``, ``timeout``, ``unavailable`` (connection refused or 5xx) or ``error``."""
    metrics = _current_metrics.get()
    if metrics is not None:
        metrics.record_registry_call(outcome, seconds)


def observe_db_pool(app: FastAPI, engine: Pooled, name: str = "main") -> None:
    """Export the pool of ``engine`` (or of a ``Database``): size, checked out, checked in,
    overflow, read at scrape time. Call from the lifespan after creating the engine; calling
    again replaces it."""
    metrics_for(app).observe_db_pool(engine, name)


# --------------------------------------------------------------------------- readiness


class NotReady(Exception):
    """Raised by a readiness check: ``checks`` maps each check to ``"ok"`` or why it failed."""

    def __init__(self, checks: Mapping[str, str]) -> None:
        self.checks = dict(checks)
        failed = [name for name, state in self.checks.items() if state != "ok"]
        super().__init__("not ready: " + ", ".join(failed or ["unknown"]))


async def ping_database(engine: AsyncEngine) -> None:
    """``SELECT 1`` on a pooled connection."""
    from sqlalchemy import text

    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def run_checks(checks: Mapping[str, Callable[[], Awaitable[object]]]) -> dict[str, str]:
    """Run named checks concurrently; ``{"database": "ok", ...}`` or :class:`NotReady` saying
    which failed and why. Usable as the body of a service's readiness function."""
    names = list(checks)
    outcomes = await asyncio.gather(*(checks[n]() for n in names), return_exceptions=True)
    results: dict[str, str] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            results[name] = f"failed: {_describe(outcome)}"
        else:
            results[name] = "ok"
    if any(state != "ok" for state in results.values()):
        raise NotReady(results)
    return results


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = redact_text(text)[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- middleware


def route_template(scope: Scope, path: str | None = None, root_path: str | None = None) -> str:
    """The matched route's path template (``/v1/settlements/{setl_id}``), never the raw path.

    Requests the router did not mark (mounted apps such as static files, a 413 answered before
    routing) are matched again against the app's routes with the original ``path`` and
    ``root_path`` (the router rewrites them for mounts)."""
    route = scope.get("route")
    if route is None:
        original = dict(scope)
        if path is not None:
            original["path"] = path
        if root_path is not None:
            original["root_path"] = root_path
        route = _match_route(original)
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED_ROUTE
    if isinstance(route, Mount):
        return f"{template.rstrip('/')}/{{path}}"
    return template


def _match_route(scope: Scope) -> Any:
    router = getattr(scope.get("app"), "router", None)
    for candidate in getattr(router, "routes", ()):
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # a route that cannot judge this scope is not the match
            continue
        if match != Match.NONE:
            return candidate
    return None


class ObservabilityMiddleware:
    """Pure ASGI: request id, metrics and one log line per HTTP request."""

    def __init__(self, app: ASGIApp, *, service: str, metrics: ServiceMetrics) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_request_id(scope)
        path, root_path = scope.get("path"), scope.get("root_path")
        rid_token = _request_id.set(rid)
        metrics_token = _current_metrics.set(self.metrics)
        header = (_REQUEST_ID_KEY, rid.encode())
        status = 500
        started = False
        begin = time.perf_counter()
        self.metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != _REQUEST_ID_KEY
                ]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not started:
                # Answer here so even a crash carries the request id; the server error
                # middleware outside still logs the exception and sends nothing more.
                response = problem_response(Problem("An unexpected error occurred."))
                await response(scope, receive, send_with_id)
                status = 500
            raise
        finally:
            elapsed = time.perf_counter() - begin
            self.metrics.in_flight.dec()
            route = route_template(scope, path, root_path)
            method = str(scope.get("method", ""))
            self.metrics.record_request(method, route, status, elapsed)
            self.metrics.sample_pools()
            self._log(method, route, status, elapsed, rid)
            _current_metrics.reset(metrics_token)
            _request_id.reset(rid_token)

    def _log(self, method: str, route: str, status: int, elapsed: float, rid: str) -> None:
        if status >= 500:
            level = logging.ERROR
        elif route in PROBE_PATHS and status < 400:
            level = logging.DEBUG  # probes every few seconds would drown the log
        else:
            level = logging.INFO
        if not access_log.isEnabledFor(level):
            return
        fields = {
            "service": self.service,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "request_id": rid,
        }
        access_log.log(level, "request", extra={"medaid": fields})


# --------------------------------------------------------------------------- installation


def install_observability(app: FastAPI, *, service: str, readiness: ReadinessCheck) -> None:
    """Add ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` and one JSON log line per request."""
    metrics = ServiceMetrics(service)
    app.state.medaid_metrics = metrics

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        try:
            checks = await asyncio.wait_for(readiness(), timeout=READINESS_TIMEOUT_S)
        except NotReady as exc:
            failed = [name for name, state in exc.checks.items() if state != "ok"]
            return _not_ready(request, f"Not ready: {', '.join(failed)} failed.", exc.checks)
        except TimeoutError:
            detail = f"Not ready: the readiness check took over {READINESS_TIMEOUT_S:g} s."
            return _not_ready(request, detail, {"readiness": "failed: timed out"})
        except Exception as exc:
            return _not_ready(request, f"Not ready: {_describe(exc)}", {})
        return JSONResponse({"status": "ready", "service": service, "checks": checks})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(ObservabilityMiddleware, service=service, metrics=metrics)


def _not_ready(request: Request, detail: str, checks: Mapping[str, str]) -> JSONResponse:
    problem = ServiceUnavailable(detail, retry_after=5, extra={"checks": dict(checks)})
    return problem_response(problem, request)


# --------------------------------------------------------------------------- serving


def serve(
    app: str | ASGIApp,
    *,
    host: str,
    port: int,
    log_level: str = "INFO",
    json_logs: bool = True,
    factory: bool = False,
    graceful_timeout_s: int = 25,
    workers: int = 1,
) -> None:
    """Run ``app`` (an app, or an import string such as ``"registry.app:create_app"`` with
    ``factory=True``) under uvicorn the way production wants it: JSON logs through the
    redaction step, no access log of raw paths (the request log replaces it), and on SIGTERM:
    stop accepting, finish the requests in flight (up to ``graceful_timeout_s``), run the
    lifespan shutdown, exit.

    ``workers`` > 1: that many processes on the port (:mod:`shared.workers`), each building
    its app from ``app``, which must then be a factory's import string (``factory=True``);
    raises ``ValueError`` otherwise."""
    import uvicorn

    if workers > 1 and not (isinstance(app, str) and factory):
        raise ValueError("several workers need the app as a factory's import string")
    configure_logging(log_level, json=json_logs)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": graceful_timeout_s,
    }
    if isinstance(app, str) and workers > 1:
        from shared.workers import run_workers

        run_workers(app, workers, log_level=log_level, json_logs=json_logs, **options)
        return
    uvicorn.run(app, factory=factory, workers=1, log_level=log_level.lower(), **options)
