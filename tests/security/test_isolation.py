"""One hospital can never read, revoke, print, list or reconcile another hospital's bills, nor
see the running totals of a person it has never billed, nor reach a bill through another
hospital's idempotency key."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.security.conftest import Settlement
from tests.support.apps import iter_routes
from tests.support.data import inpatient_items, settle_body


def auth(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


async def settle(s: Settlement, hospital: str, key: str, patient_index: int) -> dict[str, Any]:
    body = settle_body(
        s.patients[patient_index],
        f"V-{hospital}-{key}",
        inpatient_items(random.Random(patient_index)),
        admitted_on=date.today() - timedelta(days=30),
    )
    response = await s.client.post(
        "/v1/settlements", json=body, headers=auth(s.keys[hospital], key)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def has_route(s: Settlement, prefix: str) -> bool:
    return any(path.startswith(prefix) for path, _ in iter_routes(s.app))


async def test_another_hospitals_bill_is_invisible(settlement: Settlement) -> None:
    s = settlement
    bill = await settle(s, "HA0001", "iso-1", 0)
    setl_id = bill["setl_id"]
    other = auth(s.keys["HB0002"])

    assert (await s.client.get(f"/v1/settlements/{setl_id}", headers=other)).status_code == 404
    receipt = await s.client.get(f"/v1/settlements/{setl_id}/receipt", headers=other)
    assert receipt.status_code == 404
    revoke = await s.client.post(f"/v1/settlements/{setl_id}/revoke", headers=other)
    assert revoke.status_code == 404
    listed = await s.client.get("/v1/settlements", headers=other)
    assert listed.status_code == 200
    assert setl_id not in listed.text
    settled_on = bill.get("setl_time", "")[:10]
    if settled_on:
        by_date = await s.client.get("/v1/settlements", params={"date": settled_on}, headers=other)
        assert by_date.status_code == 200
        assert setl_id not in by_date.text

    # The owner still sees it, untouched by the other hospital's revoke.
    own = await s.client.get(f"/v1/settlements/{setl_id}", headers=auth(s.keys["HA0001"]))
    assert own.status_code == 200
    assert own.json()["status"] == "settled"


async def test_running_totals_only_for_a_billing_hospital(settlement: Settlement) -> None:
    s = settlement
    await settle(s, "HA0001", "iso-2", 1)
    path = f"/v1/persons/{s.patients[1].id_number}/accumulators"
    year = str((date.today() - timedelta(days=30)).year)
    response = await s.client.get(path, params={"year": year}, headers=auth(s.keys["HB0002"]))
    assert response.status_code in (403, 404), response.text
    assert s.patients[1].name not in response.text
    assert "paid_this_year" not in response.text
    owner = await s.client.get(path, params={"year": year}, headers=auth(s.keys["HA0001"]))
    assert owner.status_code == 200, owner.text


async def test_idempotency_keys_are_per_hospital(settlement: Settlement) -> None:
    s = settlement
    first = await settle(s, "HA0001", "shared-key-1", 2)
    # Hospital B uses the same key for its own bill: it gets its own bill, never A's.
    second = await settle(s, "HB0002", "shared-key-1", 3)
    assert second["setl_id"] != first["setl_id"]
    assert second["hospital_code"] == "HB0002"


async def test_reconciliation_sees_only_own_bills(settlement: Settlement) -> None:
    s = settlement
    if not has_route(s, "/v1/reconciliations"):
        return  # reconciliation not built yet: nothing to check
    bill = await settle(s, "HA0001", "iso-4", 4)
    day = bill["setl_time"][:10]
    response = await s.client.post(
        "/v1/reconciliations/detail",
        headers=auth(s.keys["HB0002"]),
        json={"begin_date": day, "end_date": day, "bills": []},
    )
    assert response.status_code == 200, response.text
    assert bill["setl_id"] not in response.text
    # The service's totals for B are B's own bills, never A's.
    own = await s.client.get(
        "/v1/settlements", params={"date": day}, headers=auth(s.keys["HB0002"])
    )
    assert own.status_code == 200, own.text
    own_bills = own.json()
    own_bills = own_bills.get("items", own_bills) if isinstance(own_bills, dict) else own_bills
    settled = [b for b in own_bills if b["status"] == "settled"]
    summary = await s.client.post(
        "/v1/reconciliations/summary",
        headers=auth(s.keys["HB0002"]),
        json={
            "begin_date": day,
            "end_date": day,
            "medfee_sumamt": "0",
            "fund_pay_sumamt": "0",
            "psn_cash_pay": "0",
            "setl_cnt": 0,
        },
    )
    assert summary.status_code == 200, summary.text
    service = summary.json()["service"]
    assert service["setl_cnt"] == len(settled)
    assert Decimal(service["medfee_sumamt"]) == sum(
        (Decimal(b["medfee_sumamt"]) for b in settled), Decimal(0)
    )
