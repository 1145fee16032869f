"""Schemathesis against the settlement service's OpenAPI document, with valid tokens and
without: no server error, and every answer (status, content type, body) is documented.
Positive and negative (schema-violating) inputs; the registry answers from a stand-in."""

from __future__ import annotations

from typing import Any

from tests.fuzz.checks import CHECKS, FUZZ, without_token
from tests.fuzz.targets import DATABASES, PATIENTS, asgi_schema
from tests.support.apps import SETTLEMENT_ADMIN_TOKEN, settlement_app

ADMIN_ONLY = ("/v1/hospitals", "/v1/grants", "/v1/reports", "/v1/policies", "/v1/regions")

app = settlement_app(DATABASES["settlement"], PATIENTS, migrated=True)
schema = asgi_schema(app)


@schema.parametrize()
@FUZZ
def test_settlement_with_valid_token(case: Any, hospital_key: str) -> None:
    admin = case.operation.path.startswith(ADMIN_ONLY)
    token = SETTLEMENT_ADMIN_TOKEN if admin else hospital_key
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_settlement_without_token(case: Any) -> None:
    without_token(case)
    case.call_and_validate(checks=CHECKS)
