"""Every answer of the settlement service writes its moments one way:
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, six fractional digits, ``Z``), on SQLite and PostgreSQL.

Each endpoint that returns a timestamp is called; every key of the answer holding a moment is
checked, and the test fails if an expected one is missing (so a renamed field cannot slip
through unchecked)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.settlement.conftest import (
    Service,
    admin_headers,
    bill_body,
    make_id_number,
    settle,
    unique,
)

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
MOMENT_KEYS = ("setl_time", "revoked_at", "created_at", "recorded_at", "updated_at")


def moments(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every non-null moment in a JSON answer."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in MOMENT_KEYS and item is not None:
                yield where, item
            else:
                yield from moments(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from moments(item, f"{path}[{index}]")


def check(answer: Any, *expected: str) -> None:
    found = dict(moments(answer))
    for where in expected:
        assert where in found, (where, sorted(found))
    for where, text in found.items():
        assert isinstance(text, str), (where, text)
        assert TIMESTAMP.match(text), (where, text)
        moment = datetime.fromisoformat(text)
        assert abs(moment - datetime.now(UTC)) < timedelta(days=1), (where, text)


async def test_every_answer_writes_moments_in_one_format(svc: Service) -> None:
    admin = admin_headers()
    code = unique("H")
    created = await svc.client.post(
        "/v1/hospitals",
        json={"code": code, "name": f"医院 {code}", "level": 2, "region_code": "370305"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    check(created.json(), "created_at")
    hospital = {"Authorization": f"Bearer {created.json()['api_key']}"}

    region = await svc.client.post(
        "/v1/regions", json={"regions": [{"code": "370305", "name": "淄博市临淄区"}]}, headers=admin
    )
    assert region.status_code == 200, region.text
    regions = await svc.client.get("/v1/regions", headers=admin)
    check(regions.json(), "items[0].updated_at")

    person = svc.registry.add(make_id_number(), "registered_poor")
    grant = await svc.client.post(
        "/v1/grants",
        json={
            "id_number": person,
            "amount": "100.00",
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "reference": unique("G"),
        },
        headers=admin,
    )
    assert grant.status_code == 201, grant.text
    check(grant.json(), "created_at")

    body = bill_body(person)
    admission = await svc.client.post(
        "/v1/admissions",
        json={
            "patient": body["patient"],
            "visit": {
                "visit_id": body["visit"]["visit_id"],
                "type": "inpatient",
                "admitted_on": body["visit"]["admitted_on"],
            },
        },
        headers=hospital,
    )
    assert admission.status_code in (200, 201), admission.text
    check(admission.json(), "recorded_at")

    class Caller:
        def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
            return {**hospital, "Idempotency-Key": key or unique("K"), **extra}

    settled = await settle(svc, Caller(), body)
    assert settled.status_code == 201, settled.text
    bill = settled.json()
    check(bill, "setl_time")
    setl_id = bill["setl_id"]
    check(
        (await svc.client.get(f"/v1/settlements/{setl_id}", headers=hospital)).json(), "setl_time"
    )
    revoked = await svc.client.post(f"/v1/settlements/{setl_id}/revoke", headers=hospital)
    assert revoked.status_code == 200, revoked.text
    check(revoked.json(), "setl_time", "revoked_at", "reversal.setl_time")
    day = bill["setl_date"]
    listed = await svc.client.get(f"/v1/settlements?date={day}", headers=hospital)
    check(listed.json(), "items[0].setl_time", "items[0].revoked_at")

    period = {"begin_date": day, "end_date": day}
    summary = await svc.client.post(
        "/v1/reconciliations/summary",
        json={
            **period,
            "setl_cnt": 0,
            "medfee_sumamt": "0.00",
            "fund_pay_sumamt": "0.00",
            "psn_cash_pay": "0.00",
        },
        headers=hospital,
    )
    assert summary.status_code == 200, summary.text
    check(summary.json(), "created_at")
    # The detail answer is written without a model (a large day has 100,000 rows): the same.
    detail = await svc.client.post(
        "/v1/reconciliations/detail", json={**period, "bills": []}, headers=hospital
    )
    assert detail.status_code == 200, detail.text
    check(detail.json(), "created_at")
    tsv = await svc.client.post(
        f"/v1/reconciliations/detail?begin_date={day}&end_date={day}",
        content=b"setl_id\tvisit_id\tid_number\tmedfee_sumamt\tfund_pay_sumamt\tstatus\n",
        headers={**hospital, "Content-Type": "text/tab-separated-values"},
    )
    assert tsv.status_code == 200, tsv.text
    check(tsv.json(), "created_at")
    stored = await svc.client.get(
        f"/v1/reconciliations/{detail.json()['reconciliation_id']}", headers=hospital
    )
    check(stored.json(), "created_at")
    check(
        (await svc.client.get("/v1/reconciliations", headers=hospital)).json(),
        "items[0].created_at",
    )
