"""Bad hospital input is a 422 problem naming the field. Validation happens before any database
work, so these run on SQLite only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.settlement.conftest import Service, admin_headers, fields_of

BAD_HOSPITALS = [
    ({"code": "H 1", "name": "x", "level": 2, "region_code": "370305"}, "code"),
    ({"code": "H1", "name": "", "level": 2, "region_code": "370305"}, "name"),
    ({"code": "H1", "name": "x", "level": 4, "region_code": "370305"}, "level"),
    ({"code": "H1", "name": "x", "level": 2, "region_code": "37"}, "region_code"),
    ({"code": "H1", "name": "x", "level": "2a", "region_code": "370305"}, "level"),
]


@pytest.mark.parametrize(("body", "field"), BAD_HOSPITALS)
async def test_bad_hospital_is_422(sqlite_svc: Service, body: dict[str, Any], field: str) -> None:

    response = await sqlite_svc.client.post("/v1/hospitals", json=body, headers=admin_headers())
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
