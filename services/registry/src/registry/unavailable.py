"""Database outages answer 503 problem+json with ``Retry-After`` instead of a 500.

A lost connection, a server restarting or shutting down, a full pool or a locked SQLite file
is not a bug in the request: the caller (the settlement service) may retry. Errors that are
bugs or data conflicts (integrity, data, programming errors) still answer 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import JSONResponse

from shared.errors import Problem, ServiceUnavailable, problem_response

log = logging.getLogger("medaid.registry.database")
RETRY_AFTER_S = 2


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        return not isinstance(exc, IntegrityError | DataError | ProgrammingError)
    return isinstance(exc, PoolTimeout | ConnectionError | TimeoutError)


async def _handler(request: Request, exc: Exception) -> JSONResponse:
    if is_outage(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        problem: Problem = ServiceUnavailable(
            "The registry database is unavailable; retry shortly.", retry_after=RETRY_AFTER_S
        )
    else:
        log.exception("unhandled database error on %s", request.method)
        problem = Problem("An unexpected error occurred.")
    return problem_response(problem, request)


def install_outage_handlers(app: FastAPI) -> None:
    for kind in (DBAPIError, PoolTimeout, ConnectionError, TimeoutError):
        app.add_exception_handler(kind, _handler)
