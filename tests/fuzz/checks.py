"""What every fuzzed answer must satisfy, and the bound on examples."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.targets import EXAMPLES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def without_token(case: Any) -> None:
    for name in list(case.headers or {}):
        if name.lower() == "authorization":
            del case.headers[name]
