"""The visit of a bill: diagnoses as codes or ``{"code", "name"}`` objects (the names kept,
answered in ``diagnoses_detail`` and printed on the receipt), and an outpatient visit's
``visit_date`` standing for ``admitted_on`` and ``discharged_on``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from settlement.database import dump_json
from settlement.settlements.answers import diagnoses_detail
from settlement.settlements.schemas import SettleRequest, VisitIn
from settlement.settlements.service import request_hash
from tests.settlement.conftest import (
    Service,
    bill_body,
    check_bill,
    fields_of,
    make_id_number,
    settle,
    unique,
    without_link,
)

NAMED = [{"code": "I21.9", "name": "急性心肌梗死"}, "E11.900", {"code": "I10", "name": "高血压"}]


async def test_diagnosis_names_are_kept_answered_and_printed(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    body = bill_body(person)
    body["visit"]["diagnoses"] = NAMED
    settled = await settle(svc, hospital, body)
    assert settled.status_code == 201, settled.text
    bill = settled.json()
    check_bill(bill)
    # ``diagnoses`` stays the list of codes; the names come in ``diagnoses_detail``.
    assert bill["diagnoses"] == ["I21.9", "E11.900", "I10"]
    expected = [
        {"code": "I21.9", "name": "急性心肌梗死"},
        {"code": "E11.900", "name": None},
        {"code": "I10", "name": "高血压"},
    ]
    assert bill["diagnoses_detail"] == expected
    # Stored: the query (and the revoke answer) read them back.
    queried = await svc.client.get(f"/v1/settlements/{bill['setl_id']}", headers=hospital.headers())
    assert queried.json()["diagnoses_detail"] == expected
    assert without_link(queried.json()) == without_link(bill)

    receipt = await svc.client.get(
        f"/v1/settlements/{bill['setl_id']}/receipt", headers=hospital.headers()
    )
    assert receipt.status_code == 200
    assert "I21.9 急性心肌梗死" in receipt.text
    assert "I10 高血压" in receipt.text
    assert ">E11.900</span>" in receipt.text  # a code without a name prints alone

    revoked = await svc.client.post(
        f"/v1/settlements/{bill['setl_id']}/revoke", headers=hospital.headers()
    )
    assert revoked.json()["diagnoses_detail"] == expected


async def test_codes_only_answer_names_as_null(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "dibao")
    settled = await settle(svc, hospital, bill_body(person))  # "diagnoses": ["J18.900"]
    assert settled.status_code == 201, settled.text
    assert settled.json()["diagnoses"] == ["J18.900"]
    assert settled.json()["diagnoses_detail"] == [{"code": "J18.900", "name": None}]
    body = bill_body(person)
    body["visit"]["diagnoses"] = []
    none = await settle(svc, hospital, body)
    assert none.status_code == 201, none.text
    assert none.json()["diagnoses"] == []
    assert none.json()["diagnoses_detail"] == []


async def test_a_code_and_an_object_without_a_name_are_the_same_request(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "low_income")
    body = bill_body(person)
    key = unique("K")
    first = await settle(svc, hospital, body, key)
    assert first.status_code == 201, first.text
    as_object = bill_body(person, visit_id=body["visit"]["visit_id"])
    as_object["visit"]["diagnoses"] = [{"code": "J18.900"}]
    replay = await settle(svc, hospital, as_object, key)
    assert replay.status_code == 200, replay.text
    assert replay.json()["setl_id"] == first.json()["setl_id"]
    # A name makes it another request: the same key is a 409.
    as_object["visit"]["diagnoses"] = [{"code": "J18.900", "name": "肺炎"}]
    assert (await settle(svc, hospital, as_object, key)).status_code == 409


def test_a_request_with_codes_keeps_the_fingerprint_it_had() -> None:
    # Stored idempotency fingerprints of bills settled before names and visit_date existed
    # still match their retries: this is the hash those releases computed for this body.
    body = {
        "patient": {"id_number": "370305198001011237", "name": "张三"},
        "visit": {
            "visit_id": "MZ-HASH-1",
            "type": "outpatient",
            "admitted_on": "2026-03-02",
            "diagnoses": ["J18.900", "E11.9"],
        },
        "items": [
            {
                "code": "310100001",
                "name": "诊查费",
                "category": "A",
                "unit_price": "12.50",
                "quantity": 1,
            }
        ],
    }
    expected = "45aa900409fd72e863f464dc74d68619956c4248b3de78c519b83e2955b1859f"
    assert request_hash(SettleRequest.model_validate(body)) == expected
    body["visit"] = {**body["visit"], "visit_date": "2026-03-02"}
    del body["visit"]["admitted_on"]
    assert request_hash(SettleRequest.model_validate(body)) == expected


async def test_an_outpatient_visit_date_stands_for_both_dates(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "destitute")
    visit_id = unique("MZ")
    body = bill_body(person, visit_id=visit_id, visit_type="outpatient", total="180.00")
    body["visit"] = {"visit_id": visit_id, "type": "outpatient", "visit_date": "2026-04-08"}
    preview = await svc.client.post(
        "/v1/settlements/preview", json=body, headers=hospital.headers()
    )
    assert preview.status_code == 200, preview.text
    key = unique("K")
    settled = await settle(svc, hospital, body, key)
    assert settled.status_code == 201, settled.text
    bill = settled.json()
    assert (bill["admitted_on"], bill["discharged_on"]) == ("2026-04-08", "2026-04-08")
    assert "visit_date" not in bill
    assert bill["psn_cash_pay"] == preview.json()["psn_cash_pay"]
    # The same visit sent with admitted_on (and discharged_on) is the same request.
    for dates in (
        {"admitted_on": "2026-04-08"},
        {"admitted_on": "2026-04-08", "discharged_on": "2026-04-08"},
        {"visit_date": "2026-04-08", "admitted_on": "2026-04-08"},
    ):
        again = {**body, "visit": {"visit_id": visit_id, "type": "outpatient", **dates}}
        replay = await settle(svc, hospital, again, key)
        assert replay.status_code == 200, (dates, replay.text)
        assert replay.json()["setl_id"] == bill["setl_id"]


async def test_visit_date_conflicts_name_the_field(sqlite_svc: Service) -> None:
    hospital = await sqlite_svc.hospital()
    body = bill_body(make_id_number(), visit_type="outpatient")
    body["visit"] = {
        "visit_id": unique("MZ"),
        "type": "outpatient",
        "visit_date": "2026-04-08",
        "admitted_on": "2026-04-07",
    }
    response = await settle(sqlite_svc, hospital, body)
    assert response.status_code == 422
    assert fields_of(response) == ["visit.visit_date"]
    assert "admitted_on (2026-04-07)" in response.json()["errors"][0]["message"]
    body["visit"] = {
        "visit_id": unique("ZY"),
        "type": "inpatient",
        "visit_date": "2026-04-08",
    }
    response = await settle(sqlite_svc, hospital, body)
    assert response.status_code == 422
    assert fields_of(response) == ["visit.visit_date"]
    assert "outpatient" in response.json()["errors"][0]["message"]


# --------------------------------------------------------------------- properties

codes = st.from_regex(r"\A[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?\Z")
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=20,
)
entries = st.lists(
    st.tuples(codes, st.none() | names, st.sampled_from(["code", "object", "object-null"])),
    max_size=8,
)


def _entry(code: str, name: str | None, form: str) -> Any:
    if name is None and form == "code":
        return code
    if name is None and form == "object-null":
        return {"code": code, "name": None}
    return {"code": code} if name is None else {"code": code, "name": name}


@given(entries)
def test_diagnoses_in_any_form_come_back_in_order(given_entries: list[Any]) -> None:
    visit = VisitIn.model_validate(
        {
            "visit_id": "MZ1",
            "type": "outpatient",
            "admitted_on": "2026-03-02",
            "diagnoses": [_entry(*e) for e in given_entries],
        }
    )
    expected = [{"code": c, "name": n} for c, n, _ in given_entries]
    # As stored (JSON text) and answered.
    codes_text = dump_json(visit.diagnosis_codes)
    names = visit.diagnosis_names
    names_text = None if names is None else dump_json(names)
    assert (names is None) == all(n is None for _, n, _ in given_entries)
    stored_names = None if names_text is None else json.loads(names_text)
    detail = diagnoses_detail(json.loads(codes_text), stored_names)
    assert [d.model_dump() for d in detail] == expected
    # The fingerprint depends on the codes and names only, not on the form they came in.
    plain = VisitIn.model_validate(
        {
            "visit_id": "MZ1",
            "type": "outpatient",
            "admitted_on": "2026-03-02",
            "diagnoses": [c if n is None else {"code": c, "name": n} for c, n, _ in given_entries],
        }
    )
    assert visit.model_dump_json() == plain.model_dump_json()


dates = st.dates(min_value=date(1990, 1, 1), max_value=date.today() - timedelta(days=3))


@given(
    dates,
    st.integers(min_value=-3, max_value=3),
    st.sampled_from(["admitted_on", "discharged_on"]),
)
def test_visit_date_agrees_with_the_dates_or_is_refused(day: date, shift: int, other: str) -> None:
    base = {"visit_id": "MZ1", "type": "outpatient"}
    alone = VisitIn.model_validate({**base, "visit_date": day.isoformat()})
    assert (alone.admitted_on, alone.discharged_on, alone.bill_date) == (day, day, day)
    as_dates = VisitIn.model_validate({**base, "admitted_on": day.isoformat()})
    assert alone.model_dump_json() == as_dates.model_dump_json()

    sent = {**base, "visit_date": day.isoformat(), other: (day + timedelta(days=shift)).isoformat()}
    if shift == 0:
        assert VisitIn.model_validate(sent).model_dump_json() == alone.model_dump_json()
        return
    with pytest.raises(ValidationError) as raised:
        VisitIn.model_validate(sent)
    locations = {tuple(e["loc"]) for e in raised.value.errors()}
    if other == "discharged_on" and shift < 0:
        # A discharge before the visit date: the discharge is named.
        assert locations == {("discharged_on",)}
        assert "visit_date" in raised.value.errors()[0]["msg"]
    else:
        assert locations == {("visit_date",)}
    # An inpatient visit never takes visit_date.
    with pytest.raises(ValidationError) as inpatient:
        VisitIn.model_validate({**base, "type": "inpatient", "visit_date": day.isoformat()})
    assert {tuple(e["loc"]) for e in inpatient.value.errors()} == {("visit_date",)}
