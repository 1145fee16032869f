"""One hospital can never read, revoke, print, list or reconcile another hospital's bills, nor
see the running totals of a person it has never billed, nor reach a bill through another
hospital's idempotency key."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from settlement.config import Settings
from tests.security.conftest import Settlement
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


def local_date(bill: dict[str, Any]) -> str:
    """The bill's settlement date as the service's date filters read it: its local date
    (``SETTLEMENT_UTC_OFFSET_HOURS``, left at its default by these tests)."""
    offset = timedelta(hours=Settings.model_fields["utc_offset_hours"].default)
    setl_time = datetime.fromisoformat(bill["setl_time"])
    return setl_time.astimezone(timezone(offset)).date().isoformat()


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
    # On the bill's settlement date the owner's list has it and the other hospital's does not.
    settled_on = local_date(bill)
    by_date = await s.client.get("/v1/settlements", params={"date": settled_on}, headers=other)
    assert by_date.status_code == 200
    assert setl_id not in by_date.text
    owners = await s.client.get(
        "/v1/settlements", params={"date": settled_on}, headers=auth(s.keys["HA0001"])
    )
    assert owners.status_code == 200
    assert setl_id in {b["setl_id"] for b in owners.json()["items"]}

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
    bill = await settle(s, "HA0001", "iso-4", 4)
    own_bill = await settle(s, "HB0002", "iso-5", 5)
    day = local_date(bill)
    assert local_date(own_bill) == day
    response = await s.client.post(
        "/v1/reconciliations/detail",
        headers=auth(s.keys["HB0002"]),
        json={"begin_date": day, "end_date": day, "bills": []},
    )
    assert response.status_code == 200, response.text
    assert bill["setl_id"] not in response.text
    # B's own bill is there: the service has it, B's (empty) books do not (中心多).
    rows = {r["setl_id"]: r["result"] for r in response.json()["rows"]}
    assert rows[own_bill["setl_id"]] == "1"
    # The service's totals for B are B's own bills, never A's.
    own = await s.client.get(
        "/v1/settlements", params={"date": day}, headers=auth(s.keys["HB0002"])
    )
    assert own.status_code == 200, own.text
    page = own.json()
    assert page["next_after"] is None
    settled = [b for b in page["items"] if b["status"] == "settled"]
    assert own_bill["setl_id"] in {b["setl_id"] for b in settled}
    assert bill["setl_id"] not in {b["setl_id"] for b in page["items"]}
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
