"""Bad grant input is a 422 problem naming the field. Validation happens before any database
work, so these run on SQLite only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.settlement.conftest import Service, admin_headers, fields_of, make_id_number, unique

BAD_GRANTS = [
    ({"amount": "0"}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"amount": "1.001"}, "amount"),
    ({"amount": "99999999"}, "amount"),
    ({"id_number": "370305198001011238"}, "id_number"),
    ({"valid_from": "2026/01/01"}, "valid_from"),
    ({"reference": ""}, "reference"),
]


@pytest.mark.parametrize(("change", "field"), BAD_GRANTS)
async def test_bad_grant_is_422(sqlite_svc: Service, change: dict[str, Any], field: str) -> None:

    body = {
        "id_number": make_id_number(),
        "amount": "100",
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
        "reference": unique("r"),
    }
    body.update(change)
    response = await sqlite_svc.client.post("/v1/grants", json=body, headers=admin_headers())
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
