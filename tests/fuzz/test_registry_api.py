"""Schemathesis against the registry's OpenAPI document, with the admin token and without:
no server error, and every answer (status, content type, body) is documented."""

from __future__ import annotations

from typing import Any

from tests.fuzz.checks import CHECKS, FUZZ, without_token
from tests.fuzz.targets import DATABASES, asgi_schema
from tests.support.apps import REGISTRY_ADMIN_TOKEN, registry_app

app = registry_app(DATABASES["registry"], migrated=True)
schema = asgi_schema(app)


@schema.parametrize()
@FUZZ
def test_registry_with_admin_token(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {REGISTRY_ADMIN_TOKEN}"}, checks=CHECKS
    )


@schema.parametrize()
@FUZZ
def test_registry_without_token(case: Any) -> None:
    without_token(case)
    case.call_and_validate(checks=CHECKS)
