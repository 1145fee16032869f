"""Documented problem responses of the registry's routes (``responses=`` of each route)."""

from __future__ import annotations

from typing import Any

from shared.errors import PROBLEM_RESPONSES, problem_responses

_EXTRA: dict[int, str] = {
    400: "The body is not readable (e.g. not UTF-8 JSON)",
    415: "The body is not `text/csv` (UTF-8)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Like ``shared.errors.problem_responses``, plus 400 and 415."""
    known = [s for s in statuses if s not in _EXTRA]
    documented = problem_responses(*known)
    for status in statuses:
        if status in _EXTRA:
            documented[status] = {**PROBLEM_RESPONSES[422], "description": _EXTRA[status]}
    return dict(sorted(documented.items(), key=lambda item: str(item[0])))
