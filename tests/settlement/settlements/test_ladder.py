"""The plan's whole ladder through the service (SQLite and PostgreSQL): a deployment whose
policy folder holds the 2017 and 2020 samples and the 2023 ladder, so bills of 2026 settle
under 2023. The visit's diagnoses and the patient's age (from the ID number, on the admission
date) pick the disease programme and the chronic-disease group; preview = settle; revoke
restores the running totals; the accumulators answer, the receipt and the fund report cover
the new funds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from settlement.app import create_app
from settlement.engine import PolicyError, default_policy_dir, ladder_policy_dir
from shared.idnumber import check_character
from tests.settlement.conftest import (
    BACKENDS,
    Service,
    admin_headers,
    check_bill,
    make_id_number,
    settings_for,
    settle,
    start_service,
    unique,
)
from tests.support import ledger


@pytest.fixture(scope="module")
def ladder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment's policy folder: the default samples and the 2023 ladder beside them."""
    folder = tmp_path_factory.mktemp("ladder-policies")
    for source in (
        default_policy_dir() / "2017.toml",
        default_policy_dir() / "2020.toml",
        ladder_policy_dir() / "2023.toml",
    ):
        (folder / source.name).write_text(source.read_text("utf-8"), "utf-8")
    return folder


@pytest.fixture(params=BACKENDS)
async def ladder_svc(
    request: pytest.FixtureRequest, migrated_urls: Callable[[str], str], ladder_dir: Path
) -> AsyncIterator[Service]:
    backend: str = request.param
    url = await asyncio.to_thread(migrated_urls, backend)
    service, lifespan = await start_service(url, backend, policy_dir=ladder_dir)
    try:
        yield service
    finally:
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)


def born_on(birth_date: str) -> str:
    """A fresh valid ID number with exactly this birth date (``YYYYMMDD``)."""
    first17 = f"370305{birth_date}{int(unique('')) % 1000:03d}"
    return first17 + check_character(first17)


def body(
    id_number: str,
    items: list[dict[str, Any]],
    *,
    diagnoses: list[str],
    visit_type: str = "inpatient",
    admitted_on: str = "2026-03-02",
    discharged_on: str | None = "2026-03-05",
) -> dict[str, Any]:
    visit: dict[str, Any] = {
        "visit_id": unique("V"),
        "type": visit_type,
        "admitted_on": admitted_on,
        "diagnoses": diagnoses,
    }
    if discharged_on is not None:
        visit["discharged_on"] = discharged_on
    return {"patient": {"id_number": id_number, "name": "李四"}, "visit": visit, "items": items}


def line(code: str, name: str, category: str, unit_price: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "category": category,
        "unit_price": unit_price,
        "quantity": 1,
        **extra,
    }


CATARACT = [
    line("330100", "白内障超声乳化摘除术", "A", "3000.00"),
    line("LENS01", "人工晶体", "B", "2000.00", price_cap="1800.00"),
    {**line("310100001", "床位费", "A", "60.00"), "quantity": 3},
    line("Z0001", "营养餐", "C", "100.00"),
]


def rows(bill: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["fund_pay_type"]: r for r in bill["setldetail"]}


async def test_a_key_patient_s_cataract_under_the_2023_ladder(ladder_svc: Service) -> None:
    svc = ladder_svc
    hospital = await svc.hospital(level=2)
    person = svc.registry.add(born_on("19580214"), "dibao")
    request = body(person, CATARACT, diagnoses=["H25.901"])

    preview = await svc.client.post(
        "/v1/settlements/preview", json=request, headers=hospital.headers()
    )
    assert preview.status_code == 200, preview.text
    response = await settle(svc, hospital, request)
    assert response.status_code == 201, response.text
    bill = response.json()
    amounts = check_bill(bill)
    assert bill["policy_version"] == "2023"
    # The engine's worked example (tests/settlement/engine/test_ladder_examples.py): the
    # patient pays the out-of-scope 480.00 only; 光明工程 pays the last 208.12 in scope.
    assert amounts["psn_cash_pay"] == Decimal("480.00")
    assert {code: r["fund_payamt"] for code, r in rows(bill).items()} == {
        "390100": "3412.50",
        "390200": "0.00",
        "990101": "693.75",
        "610100": "485.63",
        "610300": "0.00",
        "640100": "0.00",
        "610400": "208.12",
    }
    assert rows(bill)["610400"]["setl_proc_info"].startswith("专项救治·光明工程（重点救助对象）")
    assert {"step": "programme", "name": "光明工程", "diagnosis": "H25.901", "age": "68"} in bill[
        "trace"
    ]
    # Preview = settle.
    previewed = preview.json()
    for name in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay", "maf_pay", "oth_pay"):
        assert previewed[name] == bill[name]
    assert previewed["setldetail"] == bill["setldetail"]
    assert previewed["trace"] == bill["trace"]

    db = svc.app.state.ctx.db
    assert await ledger.person_problems(db, person, 2026) == []
    stored = await ledger.stored_totals(db, person, 2026)
    assert stored["610400"] == Decimal("208.12")
    assert stored["610100.base"] == Decimal("693.75")

    # The accumulators answer covers every fund of the ladder the person's class takes part in.
    acc = await svc.client.get(
        f"/v1/persons/{person}/accumulators", params={"year": 2026}, headers=hospital.headers()
    )
    assert acc.status_code == 200, acc.text
    funds = {(f["fund_pay_type"], f["visit_type"], f["group"]): f for f in acc.json()["funds"]}
    assert acc.json()["policy_version"] == "2023"
    assert funds["990101", None, None]["paid_this_year"] == "693.75"
    assert funds["990101", None, None]["remaining"] == "49306.25"
    assert funds["610100", None, None]["remaining"] == "59514.37"
    assert funds["610300", None, None]["annual_limit"] == "20000.00"
    assert funds["640100", None, None]["annual_limit"] == "100000.00"
    assert funds["610400", None, None]["paid_this_year"] == "208.12"
    assert funds["390101", "outpatient", "dialysis"]["annual_limit"] == "60000.00"

    # The receipt prints every fund row with its line.
    receipt = await svc.client.get(
        f"/v1/settlements/{bill['setl_id']}/receipt", headers=hospital.headers()
    )
    assert receipt.status_code == 200
    assert "专项救治资金" in receipt.text
    assert "专项救治·光明工程" in receipt.text
    assert "扶贫特惠保险" in receipt.text

    # The fund report counts the new funds.
    report = await svc.client.get(
        "/v1/reports/funds",
        params={"from": bill["setl_date"], "to": bill["setl_date"], "group_by": "fund"},
        headers=admin_headers(),
    )
    assert report.status_code == 200, report.text
    assert {"610400", "990101", "610300"} <= {r["key"] for r in report.json()["rows"]}

    # Revoke restores the running totals.
    revoked = await svc.client.post(
        f"/v1/settlements/{bill['setl_id']}/revoke", headers=hospital.headers()
    )
    assert revoked.status_code == 200, revoked.text
    assert await ledger.stored_totals(db, person, 2026) == {}
    assert await ledger.person_problems(db, person, 2026) == []


async def test_the_age_on_the_admission_date_picks_the_children_s_programme(
    ladder_svc: Service,
) -> None:
    svc = ladder_svc
    hospital = await svc.hospital(level=3)
    items = [
        line("CHEMO", "化疗", "A", "12800.00"),
        line("DRUG01", "化疗药", "B", "8000.00"),
        line("Z0001", "营养餐", "C", "500.00"),
    ]
    # Born 2016-03-03: 9 on the admission day 2026-03-02 (10 the next day) — the children's
    # programme applies; born 2011-03-02: 15 that day — it does not.
    child = svc.registry.add(born_on("20160303"), "low_income")
    teen = svc.registry.add(born_on("20110302"), "low_income")
    paid = {}
    for person in (child, teen):
        response = await settle(svc, hospital, body(person, items, diagnoses=["C91.000"]))
        assert response.status_code == 201, response.text
        paid[person] = response.json()
        check_bill(paid[person])
    # Assisted, level 3 (the engine's worked example): the programme's fund pays 320.00 and
    # the patient 2,000.00 + 1,300.00 out of scope.
    assert rows(paid[child])["610400"]["fund_payamt"] == "320.00"
    assert paid[child]["psn_cash_pay"] == "3300.00"
    assert "610400" not in rows(paid[teen])
    assert paid[teen]["psn_cash_pay"] == "3620.00"
    step = next(s for s in paid[child]["trace"] if s["step"] == "programme")
    assert (step["name"], step["age"]) == ("大病专项救治（儿童）", "9")


async def test_monthly_dialysis_visits_use_their_own_group(ladder_svc: Service) -> None:
    svc = ladder_svc
    hospital = await svc.hospital(level=2)
    person = svc.registry.add(make_id_number(born="19700101"))  # not registered: class none
    items = [
        {**line("HD01", "血液透析", "A", "420.00"), "quantity": 13},
        {**line("EPO01", "促红素", "B", "95.00"), "quantity": 8},
    ]
    bills = []
    for month in ("01", "02", "03"):
        request = body(
            person,
            items,
            diagnoses=["N18.500"],
            visit_type="outpatient",
            admitted_on=f"2026-{month}-10",
            discharged_on=None,
        )
        response = await settle(svc, hospital, request)
        assert response.status_code == 201, response.text
        bills.append(response.json())
        check_bill(bills[-1])
    # Month 1: the group's yearly deductible 500; (6,144 − 500) × 90 % = 5,079.60; then
    # 6,144 × 90 % = 5,529.60 a month.
    assert [b["hifp_pay"] for b in bills] == ["5079.60", "5529.60", "5529.60"]
    assert [list(rows(b)) for b in bills] == [["390101", "390200"]] * 3
    acc = await svc.client.get(
        f"/v1/persons/{person}/accumulators", params={"year": 2026}, headers=hospital.headers()
    )
    funds = {(f["fund_pay_type"], f["visit_type"], f["group"]): f for f in acc.json()["funds"]}
    dialysis = funds["390101", "outpatient", "dialysis"]
    assert (dialysis["paid_this_year"], dialysis["remaining"]) == ("16138.80", "43861.20")
    assert funds["390100", "outpatient", None]["paid_this_year"] == "0.00"
    assert acc.json()["totals"]["390101.dialysis.dedc"] == "500.00"
    assert await ledger.person_problems(svc.app.state.ctx.db, person, 2026) == []


async def test_a_policy_breaking_the_plan_stops_start_up(tmp_path: Path, ladder_dir: Path) -> None:
    text = (ladder_dir / "2023.toml").read_text("utf-8")
    (tmp_path / "2023.toml").write_text(
        text.replace(
            "ratio = { key = 0.70, assisted = 0.60 }", "ratio = { key = 0.65, assisted = 0.60 }"
        ),
        "utf-8",
    )
    app = create_app(settings_for(f"sqlite:///{tmp_path}/x.db", policy_dir=tmp_path))
    with pytest.raises(PolicyError, match=r"funds\[4\]\.bands\[0\]\.ratio\.key: 0\.65 is below"):
        async with app.router.lifespan_context(app):
            pass
