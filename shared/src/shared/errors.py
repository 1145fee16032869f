"""Errors as a small hierarchy, rendered once as ``application/problem+json`` (RFC 9457).

Code below the routers raises a :class:`Problem` subclass; never ``HTTPException``. The
handlers installed by :func:`install_problem_handlers` turn it, request validation errors and
framework errors (unknown route, wrong method) into a problem document
``{type, title, status, detail, errors?}``. Field problems come as
``errors: [{"field": "items[0].amount", "message": "..."}]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("medaid.errors")


class Problem(Exception):
    """An error the API reports to its caller."""

    status: int = 500
    title: str = "Internal Server Error"
    type_: str = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors) if errors else None
        self.headers = dict(headers) if headers else {}
        self.extra = dict(extra) if extra else {}

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(Problem):
    status = 400
    title = "Bad Request"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str = "A valid bearer token is required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    title = "Not Found"


class Conflict(Problem):
    status = 409
    title = "Conflict"


class PayloadTooLarge(Problem):
    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(Problem):
    status = 415
    title = "Unsupported Media Type"


class Unprocessable(Problem):
    status = 422
    title = "Unprocessable Content"

    @classmethod
    def field(cls, field: str, message: str, **kw: Any) -> Unprocessable:
        """A 422 about one field."""
        return cls(f"{field}: {message}", errors=[{"field": field, "message": message}], **kw)


class ServiceUnavailable(Problem):
    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5, **kw: Any) -> None:
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("Retry-After", str(retry_after))
        super().__init__(detail, headers=headers, **kw)


def field_path(loc: Sequence[int | str]) -> str:
    """``("body", "items", 0, "amount")`` → ``items[0].amount``; other sources keep a prefix
    (``query.on``, ``header.idempotency-key``, ``path.setl_id``)."""
    parts = list(loc)
    prefix = ""
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = str(parts.pop(0))
        prefix = "" if source == "body" else source
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out or "body"


def _clean_message(message: str) -> str:
    # pydantic prefixes messages from our validators with "Value error, ".
    return message.removeprefix("Value error, ")


_ID_NUMBER_IN_PATH = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    # The path may carry a resident ID number (/v1/persons/{id_number}/…): answers show it
    # masked like everywhere else.
    instance = (
        _ID_NUMBER_IN_PATH.sub(r"\1********\2", request.url.path) if request is not None else None
    )
    return JSONResponse(
        problem.to_dict(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_JSON,
    )


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> Unprocessable:
    items = []
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "decode error")
            items.append({"field": "body", "message": f"is not valid JSON ({reason})"})
            continue
        loc = err.get("loc", ())
        items.append({"field": field_path(loc), "message": _clean_message(str(err.get("msg")))})
    fields = ", ".join(dict.fromkeys(i["field"] for i in items))
    return Unprocessable(f"Invalid request: {fields}", errors=items)


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(exc.errors()), request)


_UNPARSABLE_BODY = "There was an error parsing the body"


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        # A body that is not UTF-8 text is bad input like any other: 422 naming the body.
        problem_422 = Unprocessable.field("body", "could not be read (not valid UTF-8 JSON)")
        return problem_response(problem_422, request)
    problem = Problem(str(exc.detail), headers=exc.headers)
    problem.status = exc.status_code
    titles = {404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}
    problem.title = titles.get(exc.status_code, "Error")
    return problem_response(problem, request)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(Problem("An unexpected error occurred."), request)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem+json, and document it so in the OpenAPI schema."""
    _document_problem_422(app)
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": title,
        "content": {
            PROBLEM_JSON: {
                "schema": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                    "required": ["type", "title", "status", "detail"],
                }
            }
        },
    }
    for status, title in [
        (401, "Missing or invalid token"),
        (403, "Token not allowed to do this"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Payload too large"),
        (422, "Invalid input; `errors` names each field"),
        (503, "A dependency is unavailable; retry after `Retry-After` seconds"),
    ]
}
"""Documented error responses; routes add the ones they can return to ``responses=``."""


def _document_problem_422(app: FastAPI) -> None:
    """FastAPI documents its validation error as ``application/json`` HTTPValidationError; the
    API answers ``application/problem+json`` with ``errors`` — say that instead."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.get("responses") if isinstance(operation, dict) else None
                if responses and "422" in responses:
                    responses["422"] = PROBLEM_RESPONSES[422]
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: PROBLEM_RESPONSES[s] for s in statuses}
