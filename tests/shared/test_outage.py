import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared.errors import install_problem_handlers
from shared.outage import database_unavailable, install_outage_handlers


def wrapped(orig: BaseException, cls: type[DBAPIError] = DBAPIError) -> DBAPIError:
    return cls("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.TooManyConnectionsError("too many clients"),
        ConnectionRefusedError(111, "refused"),
        wrapped(Exception("57P03 wrapped by the adapter")),
        wrapped(asyncpg.CannotConnectNowError("shutting down")),
        wrapped(Exception("server closed"), OperationalError),
    ],
)
def test_outages_are_recognised(exc: BaseException) -> None:
    if isinstance(exc, DBAPIError) and type(exc) is DBAPIError and exc.orig is not None:
        # A bare DBAPIError counts only through what it wraps.
        assert database_unavailable(exc) == database_unavailable(exc.orig)
    else:
        assert database_unavailable(exc)


def test_outage_through_the_cause_chain() -> None:
    outer = RuntimeError("pool failed")
    outer.__cause__ = asyncpg.CannotConnectNowError("shutting down")
    assert database_unavailable(outer)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        wrapped(asyncpg.UniqueViolationError("duplicate key"), IntegrityError),
        ValueError("a bug"),
        KeyError("x"),
    ],
)
def test_bugs_and_conflicts_are_not_outages(exc: BaseException) -> None:
    assert not database_unavailable(exc)


async def test_handler_answers_503_for_an_outage_and_500_for_a_bug() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_outage_handlers(app, service="demo")

    @app.get("/down")
    async def down() -> None:
        raise asyncpg.CannotConnectNowError("the database system is shutting down")

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/down")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "2"
        assert r.headers["content-type"] == "application/problem+json"
        r = await client.get("/bug")
        assert r.status_code == 500


async def test_unwrapped_driver_outage_is_a_503_behind_the_observability_middleware() -> None:
    from shared.observability import install_observability

    app = FastAPI()
    install_problem_handlers(app)
    install_outage_handlers(app, service="demo")

    async def ready() -> dict[str, str]:
        return {}

    install_observability(app, service="demo", readiness=ready)

    @app.get("/down")
    async def down() -> None:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/down")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers.get("x-request-id")
