"""The what-if with the plan's ladder: a candidate's disease programmes apply to the stored
bills' diagnoses and the patients' ages; a candidate that breaks the plan's numbers is a 422
naming the key, as start-up would refuse it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from settlement.database import dump_json
from settlement.engine import ladder_policy_dir, load_policy
from settlement.simulation.replay import Replay
from shared.idnumber import check_character
from tests.settlement.admin.conftest import Service
from tests.settlement.simulation.test_endpoints import simulate, some_bills

LADDER = (ladder_policy_dir() / "2023.toml").read_text(encoding="utf-8")
CANDIDATE = LADDER.replace('version = "2023"', 'version = "2027-draft"')

CATARACT = [
    {"code": "330100", "name": "手术费", "category": "A", "unit_price": "3000.00", "quantity": "1"},
    {
        "code": "LENS01",
        "name": "人工晶体",
        "category": "B",
        "unit_price": "2000.00",
        "quantity": "1",
        "price_cap": "1800.00",
    },
    {"code": "BED", "name": "床位费", "category": "A", "unit_price": "60.00", "quantity": "3"},
    {"code": "Z0001", "name": "营养餐", "category": "C", "unit_price": "100.00", "quantity": "1"},
]


def stored(setl_id: str, on: date, diagnoses: list[str], born: str) -> Any:
    """A stored bill as the what-if streams it (a key patient, level 2, the cataract lines)."""
    first17 = f"370305{born}123"
    return SimpleNamespace(
        refd_setl_flag=0,
        init_setl_id=None,
        setl_id=setl_id,
        id_number=first17 + check_character(first17),
        acc_year=on.year,
        setl_date=on,
        visit_type="inpatient",
        hospital_level=2,
        admitted_on=on - timedelta(days=3),
        diagnoses=dump_json(diagnoses),
        categories='["dibao"]',
        items=dump_json(CATARACT),
        deltas="{}",
        policy_version="2020",
        fund_pay_sumamt=Decimal("0.00"),
        psn_cash_pay=Decimal("0.00"),
    )


def test_the_candidate_s_programme_applies_to_the_stored_diagnoses() -> None:
    candidate = load_policy(CANDIDATE)
    day = date(2026, 6, 2)
    replay = Replay(candidate, day, day)
    replay.feed([stored("A", day, ["H25.901"], "19580214")])
    # The engine's worked example: 光明工程 pays the last 208.12 in scope; the patient pays
    # the 480.00 out of scope only.
    assert replay.paid["610400"] == Decimal("208.12")
    assert replay.cash_sum[1] == Decimal("480.00")
    assert replay.names["610400"] == "专项救治资金"
    # The same bill without a cataract diagnosis: no programme.
    other = Replay(candidate, day, day)
    other.feed([stored("B", day, ["I21.9"], "19580214")])
    assert "610400" not in other.paid
    assert other.cash_sum[1] == Decimal("688.12")


def test_the_age_of_a_stored_bill_s_patient_counts() -> None:
    candidate = load_policy(CANDIDATE)
    day = date(2026, 6, 2)  # admitted 2026-05-30
    rows = [
        stored("C", day, ["C91.000"], "20160530"),  # 10 on the admission day
        stored("D", day, ["C91.000"], "20110530"),  # 15
    ]
    child, teen = Replay(candidate, day, day), Replay(candidate, day, day)
    child.feed(rows[:1])
    teen.feed(rows[1:])
    assert "610400" in child.paid
    assert "610400" not in teen.paid


async def test_a_candidate_breaking_the_plan_is_a_422_naming_the_key(sim_svc: Service) -> None:
    day = await some_bills(sim_svc)
    text = CANDIDATE.replace("threshold = 3000\nratio = 0.70", "threshold = 3000\nratio = 0.65")
    response = await simulate(sim_svc, text, day)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "policy.funds[5].ratio"
    assert "0.70" in error["message"]
    assert "secondary-assistance" in error["message"]
    # The sample itself is a valid candidate.
    response = await simulate(sim_svc, CANDIDATE, day)
    assert response.status_code == 200, response.text
    assert response.json()["candidate_version"] == "2027-draft"
