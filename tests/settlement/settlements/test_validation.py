"""Bad settle, preview and list input is a 422 problem naming the field, never a 500.
Validation happens before any database work, so these run on SQLite only."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.settlement.conftest import (
    VALID_ID,
    Service,
    bill_body,
    fields_of,
    problem,
    standard_items,
    unique,
)


def _body() -> dict[str, Any]:
    return bill_body(VALID_ID, items=standard_items())


def _set(path: str, value: Any) -> Any:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


_DELETE = object()
OUTPATIENT: dict[str, Any] = {"visit_id": "MZ-VALIDATION", "type": "outpatient"}
"""An outpatient visit without dates (the cases add them)."""

CASES: list[tuple[str, Any, str]] = [
    ("missing patient", _set("patient", _DELETE), "patient"),
    ("missing id number", _set("patient.id_number", _DELETE), "patient.id_number"),
    ("bad check digit", _set("patient.id_number", "370305198001011238"), "patient.id_number"),
    ("short id", _set("patient.id_number", "12345"), "patient.id_number"),
    ("id with letters", _set("patient.id_number", "37030519800101123A"), "patient.id_number"),
    ("impossible birth date", _set("patient.id_number", "370305198002301230"), "patient.id_number"),
    ("empty name", _set("patient.name", "  "), "patient.name"),
    ("long name", _set("patient.name", "名" * 65), "patient.name"),
    ("control char in name", _set("patient.name", "a\nb"), "patient.name"),
    ("missing visit id", _set("visit.visit_id", _DELETE), "visit.visit_id"),
    ("visit id with spaces", _set("visit.visit_id", "ZY 001"), "visit.visit_id"),
    ("long visit id", _set("visit.visit_id", "Z" * 65), "visit.visit_id"),
    ("unknown visit type", _set("visit.type", "day-care"), "visit.type"),
    ("bad date format", _set("visit.admitted_on", "02/03/2026"), "visit.admitted_on"),
    ("not a calendar date", _set("visit.admitted_on", "2026-02-30"), "visit.admitted_on"),
    ("timestamp as date", _set("visit.admitted_on", 1767225600), "visit.admitted_on"),
    ("future discharge", _set("visit.discharged_on", "2999-01-01"), "visit.discharged_on"),
    ("ancient admission", _set("visit.admitted_on", "1900-01-01"), "visit.admitted_on"),
    (
        "discharge before admission",
        _set("visit.discharged_on", "2026-03-01"),
        "visit.discharged_on",
    ),
    ("inpatient without discharge", _set("visit.discharged_on", _DELETE), "visit.discharged_on"),
    ("bad diagnosis", _set("visit.diagnoses", ["not a code"]), "visit.diagnoses[0]"),
    ("too many diagnoses", _set("visit.diagnoses", ["J18.9"] * 51), "visit.diagnoses"),
    (
        "bad code in a diagnosis object",
        _set("visit.diagnoses", [{"code": "xx", "name": "肺炎"}]),
        "visit.diagnoses[0].code",
    ),
    (
        "diagnosis object without a code",
        _set("visit.diagnoses", [{"name": "肺炎"}]),
        "visit.diagnoses[0].code",
    ),
    (
        "blank diagnosis name",
        _set("visit.diagnoses", [{"code": "J18.9", "name": "  "}]),
        "visit.diagnoses[0].name",
    ),
    (
        "long diagnosis name",
        _set("visit.diagnoses", [{"code": "J18.9", "name": "病" * 129}]),
        "visit.diagnoses[0].name",
    ),
    (
        "control character in a diagnosis name",
        _set("visit.diagnoses", [{"code": "J18.9", "name": "肺\n炎"}]),
        "visit.diagnoses[0].name",
    ),
    (
        "unknown member of a diagnosis",
        _set("visit.diagnoses", [{"code": "J18.9", "nam": "肺炎"}]),
        "visit.diagnoses[0].nam",
    ),
    ("diagnosis neither code nor object", _set("visit.diagnoses", [18.9]), "visit.diagnoses[0]"),
    (
        "bad second diagnosis of a mixed list",
        _set("visit.diagnoses", ["J18.9", {"code": "bad", "name": "x"}]),
        "visit.diagnoses[1].code",
    ),
    (
        "visit_date on an inpatient visit",
        _set("visit.visit_date", "2026-03-02"),
        "visit.visit_date",
    ),
    (
        "visit_date and admitted_on disagree",
        _set("visit", {**OUTPATIENT, "admitted_on": "2026-03-01", "visit_date": "2026-03-02"}),
        "visit.visit_date",
    ),
    (
        "visit_date and discharged_on disagree",
        _set("visit", {**OUTPATIENT, "visit_date": "2026-03-02", "discharged_on": "2026-03-03"}),
        "visit.visit_date",
    ),
    (
        "visit_date not a date",
        _set("visit", {**OUTPATIENT, "visit_date": "2026-02-30"}),
        "visit.visit_date",
    ),
    (
        "future visit_date",
        _set("visit", {**OUTPATIENT, "visit_date": "2999-01-01"}),
        "visit.visit_date",
    ),
    ("outpatient without any date", _set("visit", OUTPATIENT), "visit.admitted_on"),
    ("missing items", _set("items", _DELETE), "items"),
    ("empty items", _set("items", []), "items"),
    ("items not a list", _set("items", {"code": "x"}), "items"),
    ("unknown category", _set("items.0.category", "D"), "items[0].category"),
    ("negative price", _set("items.1.unit_price", "-1.00"), "items[1].unit_price"),
    ("three decimals", _set("items.1.unit_price", "38.505"), "items[1].unit_price"),
    ("three-decimal float", _set("items.1.unit_price", 38.505), "items[1].unit_price"),
    ("price as text", _set("items.1.unit_price", "abc"), "items[1].unit_price"),
    ("NaN price", _set("items.1.unit_price", "NaN"), "items[1].unit_price"),
    ("absurd price", _set("items.1.unit_price", "99999999999"), "items[1].unit_price"),
    ("boolean price", _set("items.1.unit_price", True), "items[1].unit_price"),
    ("zero quantity", _set("items.0.quantity", 0), "items[0].quantity"),
    ("negative quantity", _set("items.0.quantity", -2), "items[0].quantity"),
    ("five-decimal quantity", _set("items.0.quantity", "1.00001"), "items[0].quantity"),
    ("absurd quantity", _set("items.0.quantity", 10**9), "items[0].quantity"),
    ("negative amount", _set("items.3.amount", "-250.00"), "items[3].amount"),
    ("amount not price x quantity", _set("items.3.amount", "251.00"), "items[3].amount"),
    ("ratio above one", _set("items.1.self_pay_ratio", "1.5"), "items[1].self_pay_ratio"),
    ("negative price cap", _set("items.2.price_cap", "-5"), "items[2].price_cap"),
    ("missing item code", _set("items.0.code", _DELETE), "items[0].code"),
    ("long item name", _set("items.0.name", "x" * 129), "items[0].name"),
    ("unknown field", _set("items.0.self_pay_rate", "0.1"), "items[0].self_pay_rate"),
    ("unknown top-level field", _set("hospital", "x"), "hospital"),
    ("too many items", _set("items", standard_items()[:1] * 2001), "items"),
    (
        "bill total too large",
        _set(
            "items",
            [{"code": "x", "name": "x", "category": "A", "unit_price": "9000000", "quantity": 100}],
        ),
        "items",
    ),
]


@pytest.mark.parametrize(("change", "field"), [pytest.param(c, f, id=n) for n, c, f in CASES])
@pytest.mark.parametrize("path", ["/v1/settlements", "/v1/settlements/preview"])
async def test_bad_settle_input_is_422_naming_the_field(
    sqlite_svc: Service, change: Any, field: str, path: str
) -> None:
    hospital = await sqlite_svc.hospital()
    body = copy.deepcopy(_body())
    change(body)
    response = await sqlite_svc.client.post(path, json=body, headers=hospital.headers(unique("K")))
    assert response.status_code == 422, response.text
    assert field in fields_of(response), problem(response)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("{not json", "body"),
        ("[]", "body"),
        ("null", "body"),
    ],
)
async def test_malformed_json_is_422(sqlite_svc: Service, payload: str, field: str) -> None:
    hospital = await sqlite_svc.hospital()
    response = await sqlite_svc.client.post(
        "/v1/settlements",
        content=payload,
        headers={**hospital.headers(unique("K")), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert fields_of(response) == [field], problem(response)


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"", "application/json", "Field required"),
        (b"{not json", "application/json", "is not valid JSON"),
        (b'{"patient": "\xff\xfe"}', "application/json", "not valid UTF-8"),
        (b'{"patient": {}}', "text/plain", "valid dictionary"),
        (b'{"patient": {}}', None, "valid dictionary"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/settlements", "/v1/settlements/preview"])
async def test_unreadable_body_is_422_naming_the_body(
    sqlite_svc: Service, content: bytes, content_type: str | None, message: str, path: str
) -> None:
    hospital = await sqlite_svc.hospital()
    headers = hospital.headers(unique("K"))
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await sqlite_svc.client.post(path, content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert message in error["message"]


async def test_json_content_types_with_parameters_are_read(sqlite_svc: Service) -> None:
    hospital = await sqlite_svc.hospital()
    headers = {
        **hospital.headers(unique("K")),
        "Content-Type": "application/merge-patch+json; charset=utf-8",
    }
    response = await sqlite_svc.client.post(
        "/v1/settlements/preview", content=json.dumps(_body()).encode(), headers=headers
    )
    assert response.status_code == 200, response.text


def test_settle_routes_document_their_body_like_a_body_parameter(sqlite_svc: Service) -> None:
    document = sqlite_svc.app.openapi()
    schemas = document["components"]["schemas"]
    for path in ("/v1/settlements", "/v1/settlements/preview"):
        body = document["paths"][path]["post"]["requestBody"]
        assert body == {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SettleRequest"}}
            },
        }
    for name in ("SettleRequest", "VisitIn", "FeeItemIn", "DiagnosisIn", "PatientIn"):
        assert name in schemas
    assert "HTTPValidationError" not in schemas
    assert list(schemas) == sorted(schemas)


async def test_oversized_body_is_413(sqlite_svc: Service) -> None:
    hospital = await sqlite_svc.hospital()
    body = b'{"items": [' + b'{"code": "x"},' * 700_000 + b"]}"
    response = await sqlite_svc.client.post(
        "/v1/settlements",
        content=body,
        headers={**hospital.headers(unique("K")), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "yesterday"}, "query.date"),
        ({"status": "open"}, "query.status"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 5000}, "query.limit"),
    ],
)
async def test_bad_list_query_is_422(
    sqlite_svc: Service, params: dict[str, Any], field: str
) -> None:
    hospital = await sqlite_svc.hospital()
    response = await sqlite_svc.client.get(
        "/v1/settlements", params=params, headers=hospital.headers()
    )
    assert response.status_code == 422, response.text
    assert field in fields_of(response)


async def test_no_policy_in_force_is_422(sqlite_svc: Service) -> None:
    hospital = await sqlite_svc.hospital()
    body = _body()
    body["visit"]["admitted_on"] = "2016-03-01"
    body["visit"]["discharged_on"] = "2016-03-05"
    response = await sqlite_svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    assert response.status_code == 422
    assert fields_of(response) == ["visit.discharged_on"]
    assert "no settlement policy" in problem(response)["detail"]
