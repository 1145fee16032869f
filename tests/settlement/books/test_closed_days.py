"""Property: random settles and revokes (out of order, replayed, visits settled again) over
several local days. For every day, the figures read right after the day ended (summary
reconciliation, fund reports, detail rows, the what-if of the policy in force) equal the
figures read at the end; the days' net figures add up to the bills that stand (settled,
unrevoked), and the records to the bills plus their reversals.

The days are made with a clock: the service's ``utcnow`` is replaced by one that moves a
day at a time (noon UTC, the same local date at UTC+8), each example on days of its own."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.cli import MIGRATIONS
from shared.db import run_migrations
from tests.settlement.admin.conftest import FakeRegistry, admin_headers
from tests.settlement.books.helpers import detail, policy_text, report, running, simulate, summary
from tests.settlement.conftest import without_link

PATIENTS = (
    ("370305198001011237", ["dibao"]),  # key
    ("370305195810062882", ["low_income"]),  # assisted
    ("370305197712120136", []),  # none
)
PRICES = ("800.00", "3000.00", "5000.00", "12000.00", "30000.00")
AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay")
FIRST_DAY = date(2031, 1, 1)
_examples = itertools.count()

Action = tuple[str, int, int]
"""("settle", patient, price) | ("revoke", bill, _) | ("resettle", bill, _)"""

actions = st.one_of(
    st.tuples(
        st.just("settle"),
        st.integers(0, len(PATIENTS) - 1),
        st.integers(0, len(PRICES) - 1),
    ),
    st.tuples(st.just("revoke"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("resettle"), st.integers(0, 50), st.just(0)),
)
scenarios = st.lists(st.lists(actions, max_size=5), min_size=2, max_size=4)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Ledger:
    """What the test made: every bill answer, by ``setl_id``, in order."""

    bills: dict[str, dict[str, Any]] = field(default_factory=dict)
    serial: int = 0

    def standing(self) -> list[dict[str, Any]]:
        return [b for b in self.bills.values() if b["status"] == "settled"]


STAYS: dict[str, date] = {}


def body(patient: int, price: int, visit_id: str, discharged: date) -> dict[str, Any]:
    # A person is in one stay at a time: each visit gets its own night before ``discharged``
    # (a visit settled again keeps its dates).
    discharged = STAYS.setdefault(visit_id, discharged - timedelta(days=len(STAYS)))
    return {
        "patient": {"id_number": PATIENTS[patient][0], "name": "测试"},
        "visit": {
            "visit_id": visit_id,
            "type": "inpatient",
            "admitted_on": (discharged - timedelta(days=1)).isoformat(),
            "discharged_on": discharged.isoformat(),
        },
        "items": [
            {
                "code": "330100",
                "name": "手术费",
                "category": "A",
                "unit_price": PRICES[price],
                "quantity": 1,
            }
        ],
    }


async def figures(client: Any, hospital: str, day: date, policy: str) -> dict[str, Any]:
    """Everything the books say about one day."""
    rows = (await detail(client, hospital, day, day, []))["rows"]
    by_hospital = await report(client, day, day, "hospital")
    return {
        "summary": (await summary(client, hospital, day, day))["service"],
        "hospital": [r for r in by_hospital["rows"] if r["key"] == hospital],
        "fund": await report(client, day, day, "fund"),
        "day.csv": await report(client, day, day, "day", csv=True),
        "detail": sorted((r["setl_id"], r["status"], r["medfee_sumamt"]) for r in rows),
        "what_if": await simulate(client, policy, day, day),
    }


async def play(url: str, scenario: list[list[Action]]) -> None:
    start = FIRST_DAY + timedelta(days=10 * next(_examples))
    registry = FakeRegistry({number: list(categories) for number, categories in PATIENTS})
    clock = Clock(datetime.combine(start, datetime.min.time(), tzinfo=UTC))
    discharged = date.today() - timedelta(days=5)
    policy = policy_text(discharged)
    ledger = Ledger()
    days = [start + timedelta(days=i) for i in range(len(scenario))]
    with patch("settlement.settlements.service.utcnow", clock):
        async with running(url, registry) as client:
            code = f"HB{start.strftime('%Y%m%d')}"
            created = await client.post(
                "/v1/hospitals",
                json={"code": code, "name": "测试医院", "level": 2, "region_code": "370305"},
                headers=admin_headers(),
            )
            assert created.status_code == 201, created.text
            auth = {"Authorization": f"Bearer {created.json()['api_key']}"}
            closed: dict[date, dict[str, Any]] = {}
            for day, day_actions in zip(days, scenario, strict=True):
                clock.now = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
                    hours=4
                )  # 12:00 at UTC+8
                for kind, a, b in day_actions:
                    made = list(ledger.bills.values())
                    if kind == "settle":
                        ledger.serial += 1
                        visit = f"V{start:%Y%m%d}-{ledger.serial:03d}"
                        response = await client.post(
                            "/v1/settlements",
                            json=body(a, b, visit, discharged),
                            headers={**auth, "Idempotency-Key": f"{visit}-1"},
                        )
                        assert response.status_code == 201, response.text
                        bill = response.json()
                        bill["patient_index"], bill["price_index"] = a, b
                        ledger.bills[bill["setl_id"]] = bill
                    elif not made:
                        continue
                    elif kind == "revoke":
                        target = made[a % len(made)]
                        response = await client.post(
                            f"/v1/settlements/{target['setl_id']}/revoke", headers=auth
                        )
                        assert response.status_code == 200, response.text
                        answer = response.json()
                        keep = {k: target[k] for k in ("patient_index", "price_index")}
                        if target["status"] == "revoked":  # a replay changes nothing
                            assert without_link({**answer, **keep}) == without_link(target)
                        else:
                            assert answer["reversal"]["setl_date"] == day.isoformat()
                            assert answer["setl_date"] == target["setl_date"]
                        ledger.bills[target["setl_id"]] = {**answer, **keep}
                    else:  # settle a revoked bill's visit again: a new bill
                        target = made[a % len(made)]
                        visit = target["visit_id"]
                        if target["status"] != "revoked" or any(
                            x["visit_id"] == visit and x["status"] == "settled" for x in made
                        ):
                            continue
                        ledger.serial += 1
                        response = await client.post(
                            "/v1/settlements",
                            json=body(
                                target["patient_index"], target["price_index"], visit, discharged
                            ),
                            headers={**auth, "Idempotency-Key": f"{visit}-{ledger.serial}"},
                        )
                        assert response.status_code == 201, response.text
                        bill = response.json()
                        bill["patient_index"] = target["patient_index"]
                        bill["price_index"] = target["price_index"]
                        ledger.bills[bill["setl_id"]] = bill
                closed[day] = await figures(client, code, day, policy)

            # Every closed day reads the same at the end.
            for day in days:
                assert await figures(client, code, day, policy) == closed[day], day

            # The days add up to the bills that stand, and count every bill and reversal.
            standing = ledger.standing()
            reversals = sum(1 for b in ledger.bills.values() if b["reversal"] is not None)
            for name in AMOUNTS:
                assert sum((Decimal(closed[d]["summary"][name]) for d in days), Decimal(0)) == sum(
                    (Decimal(b[name]) for b in standing), Decimal(0)
                )
            assert sum(closed[d]["summary"]["setl_cnt"] for d in days) == (
                len(ledger.bills) + reversals
            )
            whole = await summary(client, code, days[0], days[-1])
            assert whole["service"]["setl_cnt"] == len(ledger.bills) + reversals
            for name in AMOUNTS:
                assert Decimal(whole["service"][name]) == sum(
                    (Decimal(b[name]) for b in standing), Decimal(0)
                )
            # The policy in force re-run over the whole period reproduces the stored records.
            again = await simulate(client, policy, days[0], days[-1])
            assert again["fund_pay_sumamt"]["difference"] == "0.00"
            assert all(f["difference"] == "0.00" for f in again["funds"])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def books_url(request: pytest.FixtureRequest, database_factory: Callable[[str, str], str]) -> str:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    url = database_factory(request.param, "closed_days")
    run_migrations(MIGRATIONS, url)
    return url


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios)
def test_closed_days_never_change(books_url: str, scenario: list[list[Action]]) -> None:
    asyncio.run(play(books_url, scenario))
