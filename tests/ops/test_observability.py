"""The observability module against a tiny app wired like the services."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import structlog
from sqlalchemy import text

from shared import observability
from shared.db import make_engine
from shared.idnumber import check_character
from shared.observability import (
    configure_logging,
    metrics_for,
    observe_db_pool,
    propagate_request_id,
    record_settlement,
    redact_text,
    register_secrets,
)
from tests.ops.demo_app import create_app

FIRST17 = "11010119900307123"
ID_NUMBER = FIRST17 + check_character(FIRST17)
MASKED = ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
TOKEN = "s3cret-admin-token-0123456789"
API_KEY = "mk_Zr8cQf1Xw3Lq9aT7uVb2Ne5Hs0Pd4Gk6"


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered exactly as in production."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def client(app: object, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def demo() -> AsyncIterator[httpx.AsyncClient]:
    async with client(create_app()) as c:
        yield c


async def test_healthz_answers_without_any_dependency() -> None:
    async with client(create_app(ready=False)) as c:
        response = await c.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "demo"}


async def test_readyz_lists_the_checks_when_ready(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "service": "demo", "checks": {"database": "ok"}}


async def test_readyz_is_503_problem_naming_the_failed_check() -> None:
    async with client(create_app(ready=False)) as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["status"] == 503
    assert "database" in body["detail"]
    assert body["checks"]["database"].startswith("failed: ConnectionRefusedError")


async def test_readyz_turns_ready_when_the_dependency_comes_back() -> None:
    app = create_app(ready=False)
    async with client(app) as c:
        assert (await c.get("/readyz")).status_code == 503
        app.state.readiness["ready"] = True
        assert (await c.get("/readyz")).status_code == 200


async def test_readyz_fails_on_any_exception_and_on_a_hung_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi import FastAPI

    async def broken() -> dict[str, str]:
        raise OSError("postgresql://medaid:hunter22@db:5432/x unreachable")

    async def hung() -> dict[str, str]:
        await asyncio.sleep(5)
        return {}

    monkeypatch.setattr(observability, "READINESS_TIMEOUT_S", 0.05)
    for readiness, expected in ((broken, "OSError"), (hung, "took over")):
        app = FastAPI()
        observability.install_observability(app, service="x", readiness=readiness)
        async with client(app) as c:
            response = await c.get("/readyz")
        assert response.status_code == 503
        assert expected in response.json()["detail"]
        assert "hunter22" not in response.text


async def test_metrics_count_requests_by_route_template_and_status(
    demo: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        assert (await demo.get(f"/v1/persons/{ID_NUMBER}/eligibility")).status_code == 200
    assert (await demo.get("/no/such/path")).status_code == 404
    assert (await demo.get("/v1/hospitals/H0001")).status_code == 200
    assert (await demo.get("/static/__init__.py")).status_code == 200
    response = await demo.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    metrics = response.text
    assert ID_NUMBER not in metrics
    assert (
        'medaid_http_requests_total{method="GET",route="/v1/persons/{id_number}/eligibility",'
        'status="200"} 2.0'
    ) in metrics
    assert 'medaid_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in metrics
    assert 'route="/v1/hospitals/{code}",status="200"} 1.0' in metrics
    assert 'route="/static/{path}",status="200"} 1.0' in metrics
    assert "H0001" not in metrics
    assert re.search(
        r'medaid_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",'
        r'route="/v1/persons/\{id_number\}/eligibility"\} 2\.0',
        metrics,
    )
    # The scrape itself is in flight while the page is rendered.
    assert "medaid_http_requests_in_flight 1.0" in metrics


async def test_settlement_revoke_and_registry_metrics(demo: httpx.AsyncClient) -> None:
    await demo.post("/v1/settlements")
    await demo.post("/v1/settlements")
    await demo.post("/v1/settlements/S1/revoke")
    metrics = (await demo.get("/metrics")).text
    assert "medaid_settlements_total 2.0" in metrics
    assert "medaid_settlement_revokes_total 1.0" in metrics
    assert 'medaid_settlement_fund_payments_total{fund="390100"} 2.0' in metrics
    assert 'medaid_settlement_fund_paid_yuan_total{fund="390100"} 1500.0' in metrics
    assert 'medaid_settlement_fund_paid_yuan_total{fund="610100"} 241.0' in metrics
    assert 'medaid_settlement_fund_revoked_yuan_total{fund="390100"} 750.0' in metrics
    assert 'medaid_registry_calls_total{outcome="ok"} 2.0' in metrics
    assert 'medaid_registry_call_duration_seconds_count{outcome="ok"} 2.0' in metrics


async def test_each_app_has_its_own_metrics() -> None:
    first, second = create_app(service="one"), create_app(service="two")
    async with client(first) as a, client(second) as b:
        await a.post("/v1/settlements")
        assert "medaid_settlements_total 1.0" in (await a.get("/metrics")).text
        assert "medaid_settlements_total 0.0" in (await b.get("/metrics")).text
    # Outside a request there is no app to record into: nothing happens, nothing breaks.
    record_settlement({"390100": 1})  # type: ignore[dict-item]
    assert metrics_for(first).settlements._value.get() == 1.0


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_db_pool_gauges_are_read_at_scrape_time(database_factory, kind: str) -> None:
    app = create_app()
    engine = make_engine(database_factory(kind, "ops_pool"), pool_size=3)
    observe_db_pool(app, engine)
    try:
        async with client(app) as c, engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            busy = (await c.get("/metrics")).text
            assert 'medaid_db_pool_checked_out{pool="main"} 1.0' in busy
            if kind == "postgres":
                assert 'medaid_db_pool_size{pool="main"} 3.0' in busy
        async with client(app) as c:
            idle = (await c.get("/metrics")).text
        assert 'medaid_db_pool_checked_out{pool="main"} 0.0' in idle
    finally:
        await engine.dispose()


async def test_request_id_is_echoed_or_made_and_passed_on(demo: httpx.AsyncClient) -> None:
    given = await demo.get(
        f"/v1/persons/{ID_NUMBER}/eligibility", headers={"X-Request-ID": "his-42.a:b"}
    )
    assert given.headers["x-request-id"] == "his-42.a:b"
    assert given.json() == {"request_id": "his-42.a:b", "outgoing": {"X-Request-ID": "his-42.a:b"}}

    made = await demo.get(f"/v1/persons/{ID_NUMBER}/eligibility")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.json()["request_id"] == made.headers["x-request-id"]
    other = await demo.get("/healthz")
    assert other.headers["x-request-id"] != made.headers["x-request-id"]

    # Ids that are too long, odd, or carry an ID number are replaced, never echoed.
    for bad in ("x" * 200, "a b", ID_NUMBER, f"req-{ID_NUMBER}"):
        response = await demo.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), bad


async def test_request_id_reaches_an_outgoing_httpx_call() -> None:
    seen: list[str | None] = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-request-id"))
        return httpx.Response(200, json={})

    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/call")
    async def call() -> dict[str, str]:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(registry),
            event_hooks={"request": [propagate_request_id]},
        ) as outgoing:
            await outgoing.get("http://registry:8001/v1/anything")
        return {}

    async def ready() -> dict[str, str]:
        return {}

    observability.install_observability(app, service="x", readiness=ready)
    async with client(app) as c:
        await c.get("/call", headers={"X-Request-ID": "trace-1"})
        await c.get("/call")
    assert seen[0] == "trace-1"
    assert seen[1] is not None
    assert re.fullmatch(r"[0-9a-f]{32}", seen[1])


async def test_unhandled_error_is_a_problem_500_with_the_request_id(
    logs: io.StringIO,
) -> None:
    async with client(create_app(), raise_app_exceptions=False) as c:
        response = await c.get(f"/boom/{ID_NUMBER}", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"
    assert ID_NUMBER not in response.text
    access = [line for line in lines(logs) if line.get("logger") == "medaid.access"]
    assert access[-1]["status"] == 500
    assert access[-1]["route"] == "/boom/{id_number}"
    assert ID_NUMBER not in logs.getvalue()


async def test_one_json_log_line_per_request_without_id_numbers_or_tokens(
    logs: io.StringIO,
) -> None:
    register_secrets(TOKEN)
    async with client(create_app()) as c:
        await c.get(
            f"/v1/persons/{ID_NUMBER}/eligibility",
            headers={"Authorization": f"Bearer {TOKEN}", "X-Request-ID": "req-7"},
        )
        await c.post(
            "/v1/settlements",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={"patient": {"id_number": ID_NUMBER, "name": "张三"}},
        )
        await c.get("/healthz")
        # Over the body limit: answered by the size-limit middleware, still logged.
        await c.post("/v1/settlements", content=b"x" * 4096)
    logging.getLogger("demo").warning(
        "connecting to postgresql://medaid:pg-password-1@db/x with key %s", API_KEY
    )
    structlog.get_logger("demo").info("lookup", id_number=ID_NUMBER, authorization=TOKEN)

    output = logs.getvalue()
    for secret in (ID_NUMBER, TOKEN, API_KEY, "pg-password-1"):
        assert secret not in output, secret
    assert MASKED in output  # the handler's own line, masked by the redaction step

    records = lines(logs)
    access = [r for r in records if r.get("logger") == "medaid.access"]
    assert [(r["method"], r["route"], r["status"]) for r in access] == [
        ("GET", "/v1/persons/{id_number}/eligibility", 200),
        ("POST", "/v1/settlements", 200),
        ("GET", "/healthz", 200),
        ("POST", "/v1/settlements", 413),
    ]
    first = access[0]
    assert first["request_id"] == "req-7"
    assert first["service"] == "demo"
    assert first["event"] == "request"
    assert isinstance(first["duration_ms"], float)
    assert access[2]["level"] == "debug"  # probes stay out of the INFO log
    # Lines logged while serving a request carry its id.
    handler_line = next(r for r in records if r.get("logger") == "demo")
    assert handler_line["request_id"] == "req-7"
    structured = next(r for r in records if r.get("event") == "lookup")
    assert structured["authorization"] == "[REDACTED]"
    assert structured["id_number"] == MASKED


def test_redaction_rules() -> None:
    x_id = "11010119900307002X"
    assert redact_text(f"id={x_id}.") == "id=110101********002X."
    assert redact_text(f"/p/{ID_NUMBER}/e") == f"/p/{MASKED}/e"
    # Longer digit runs are not ID numbers (setl ids, timestamps).
    assert redact_text("12345678901234567890") == "12345678901234567890"
    assert redact_text("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer [REDACTED]"
    assert redact_text(f"key {API_KEY} used") == "key [REDACTED] used"
    assert (
        redact_text("postgresql://medaid:pw@postgres:5432/registry")
        == "postgresql://medaid:[REDACTED]@postgres:5432/registry"
    )
    assert redact_text("postgresql://postgres@127.0.0.1/x") == "postgresql://postgres@127.0.0.1/x"


def test_console_format_is_redacted_too() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", json=False, stream=stream)
    try:
        try:
            raise ValueError(f"bad person {ID_NUMBER}")
        except ValueError:
            logging.getLogger("demo").exception("failed for %s", ID_NUMBER)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.reset_defaults()
    output = stream.getvalue()
    assert ID_NUMBER not in output
    assert f"failed for {MASKED}" in output
    assert f"ValueError: bad person {MASKED}" in output
