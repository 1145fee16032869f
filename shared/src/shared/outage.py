"""Database outages answer 503 problem+json with ``Retry-After`` instead of a 500.

A refused or dropped connection, a server restarting or shutting down, no host of a multi-host
URL taking writes (a failover under way), an exhausted pool or a busy SQLite file is not a bug in
the request: the caller may retry and nothing was written
(the transaction rolled back). Anything else that escapes a route is a bug: 500, logged.
"""

from __future__ import annotations

import logging

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import JSONResponse

from shared.errors import Problem, ServiceUnavailable, problem_response

log = logging.getLogger("medaid.database")
RETRY_AFTER_S = 2

_DB_DOWN_NAMES = frozenset(
    {
        # asyncpg's own errors, when they reach us unwrapped
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "PostgresConnectionError",
        "ConnectionFailureError",
        "ClientCannotConnectError",
        "TooManyConnectionsError",
        "InterfaceError",  # asyncpg: the connection is closed or in use
        "InternalClientError",
    }
)


_OUTAGE_SQLSTATE_PREFIXES = (
    "08",  # connection exception
    "57P",  # operator intervention: admin / crash shutdown, cannot connect now
    "53300",  # too many connections
    "25006",  # read-only transaction: the server is a standby now (a failover under way)
)


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached right now", as opposed to a
    bug or a data conflict (integrity, data and programming errors stay 500s).

    Works on SQLAlchemy's wrapped errors and on the driver's own (asyncpg used directly):
    by class, by SQLSTATE (classes 08 and 57P, 53300, 25006) and along the ``__cause__`` chain.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeout | OSError):
        return True
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    ):
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATE_PREFIXES):
        return True
    return any(cls.__name__ in _DB_DOWN_NAMES for cls in type(exc).__mro__)


def install_outage_handlers(app: FastAPI, *, service: str) -> None:
    """Render database outages as 503 problem+json; log everything else as a 500."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            log.warning("%s database unavailable: %s", service, type(exc).__name__)
            problem: Problem = ServiceUnavailable(
                f"The {service} database is unavailable; nothing was written. Retry shortly.",
                retry_after=RETRY_AFTER_S,
            )
        else:
            log.exception("unhandled error on %s %s", request.method, request.scope.get("route"))
            problem = Problem("An unexpected error occurred.")
        return problem_response(problem, request)

    # The driver's own errors are named too: a handler for plain ``Exception`` runs outside
    # the app's middleware (after the response is already a 500), so it is only the last
    # resort for bugs.
    for kind in (
        DBAPIError,
        PoolTimeout,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,
        Exception,
    ):
        app.add_exception_handler(kind, handler)
