"""Bad admission input is a 422 problem naming the field. Validation happens before any
database work, so these run on SQLite only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.settlement.conftest import VALID_ID, Service, fields_of

BAD_ADMISSIONS = [
    ({"visit": {"visit_id": "A1", "admitted_on": "2026-01-01"}}, "patient"),
    (
        {
            "patient": {"id_number": "1", "name": "x"},
            "visit": {"visit_id": "A1", "admitted_on": "2026-01-01"},
        },
        "patient.id_number",
    ),
    (
        {
            "patient": {"id_number": VALID_ID, "name": "x"},
            "visit": {"visit_id": "A1", "admitted_on": "2026-13-01"},
        },
        "visit.admitted_on",
    ),
    (
        {
            "patient": {"id_number": VALID_ID, "name": "x"},
            "visit": {"visit_id": "A1", "admitted_on": "2026-01-01", "type": "x"},
        },
        "visit.type",
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_ADMISSIONS)
async def test_bad_admission_is_422(sqlite_svc: Service, body: dict[str, Any], field: str) -> None:
    hospital = await sqlite_svc.hospital()
    response = await sqlite_svc.client.post("/v1/admissions", json=body, headers=hospital.headers())
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
