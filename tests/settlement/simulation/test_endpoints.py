"""Policy what-if: the policy in force reproduces the stored records exactly (bills and
reversals); a candidate that raises a ratio makes the fund pay more, by the right difference;
nothing is stored."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from settlement.database import Database, dump_json
from settlement.engine import FeeItem, PolicySet, apply_deltas, compute, default_policy_dir
from settlement.models import metadata
from settlement.simulation.replay import Replay
from tests.settlement.admin.conftest import Service, admin_headers, local_day
from tests.settlement.reports.synthetic import bill_funds, bills


def policy_text(on: date) -> str:
    policy = PolicySet.from_dir(default_policy_dir()).for_date(on)
    return (default_policy_dir() / policy.source).read_text(encoding="utf-8")


def raised_basic_ratio(text: str, ratio: str = "0.95") -> str:
    """The policy with the basic fund's inpatient ratio raised at every hospital level."""
    section = text.index("[funds.inpatient]")
    match = re.compile(r"^ratio = .*$", re.MULTILINE).search(text, section)
    assert match is not None
    levels = ", ".join(f"{level} = {ratio}" for level in (1, 2, 3))
    changed = text[: match.start()] + f"ratio = {{ {levels} }}" + text[match.end() :]
    return re.sub(r'^version = ".*"$', 'version = "candidate"', changed, flags=re.MULTILINE)


async def row_counts(url: str) -> dict[str, int]:
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.read() as conn:
            return {
                name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                for name, t in metadata.tables.items()
            }
    finally:
        await db.dispose()


async def stored_fund_sums(url: str, day: date) -> dict[str, Decimal]:
    db = Database.from_url(url, pool_size=1)
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(bill_funds.c.fund_pay_type, bill_funds.c.fund_payamt)
                    .join(bills, bills.c.setl_id == bill_funds.c.setl_id)
                    .where(bills.c.setl_date == day)
                )
            ).all()
    finally:
        await db.dispose()
    out: dict[str, Decimal] = {}
    for code, amount in rows:
        out[code] = out.get(code, Decimal(0)) + amount
    return out


_made: dict[str, date] = {}


async def some_bills(svc: Service) -> date:
    """Poor patients with several bills each (crossing the funds' thresholds), an assisted
    and an ordinary patient, at hospitals of two levels; one bill revoked the same day (its
    reversal is a record of the day too)."""
    if svc.backend in _made:
        return _made[svc.backend]
    level2 = await svc.hospital(level=2)
    level3 = await svc.hospital(level=3)
    made: list[dict[str, Any]] = []
    for categories in (("dibao",), ("registered_poor",), ("low_income",), ()):
        patient = svc.patient(*categories)
        for n in range(3):
            hospital = level2 if n % 2 == 0 else level3
            made.append(await svc.settle(hospital, patient, seed=n + 17))
    lonely = svc.patient("destitute")
    revoked = await svc.settle(level2, lonely, seed=5)
    await svc.revoke(level2, revoked["setl_id"])
    _made[svc.backend] = local_day(made[0])
    return _made[svc.backend]


async def simulate(svc: Service, text: str, day: date) -> Any:
    return await svc.client.post(
        "/v1/policies/simulate",
        json={"policy": text, "from": day.isoformat(), "to": day.isoformat()},
        headers=admin_headers(),
    )


async def test_policy_in_force_reproduces_the_stored_bills(sim_svc: Service) -> None:
    day = await some_bills(sim_svc)
    response = await simulate(sim_svc, policy_text(day), day)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["bills"] == 14  # 13 bills, one of them revoked, and its reversal
    assert result["reversals"] == 1
    assert result["patients"] == 5
    assert result["patients_paying_same"] == 5
    assert result["patients_paying_more"] == result["patients_paying_less"] == 0
    assert all(f["difference"] == "0.00" for f in result["funds"])
    assert all(f["in_force"] == f["candidate"] for f in result["funds"])
    assert result["fund_pay_sumamt"]["difference"] == "0.00"
    assert result["psn_cash_pay"]["difference"] == "0.00"
    assert "zero" in result["start"]


async def test_a_higher_ratio_makes_the_fund_pay_more(sim_svc: Service) -> None:
    day = await some_bills(sim_svc)
    before = await row_counts(sim_svc.url)
    response = await simulate(sim_svc, raised_basic_ratio(policy_text(day)), day)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["candidate_version"] == "candidate"
    funds = {f["fund_pay_type"]: f for f in result["funds"]}

    stored = await stored_fund_sums(sim_svc.url, day)
    assert {
        code: Decimal(f["in_force"]) for code, f in funds.items() if f["in_force"] != "0.00"
    } == {code: amount for code, amount in stored.items() if amount}
    for fund in funds.values():
        assert Decimal(fund["difference"]) == Decimal(fund["candidate"]) - Decimal(fund["in_force"])
    basic = funds["390100"]
    assert Decimal(basic["candidate"]) > Decimal(basic["in_force"])
    assert basic["fund_pay_type_name"] == "城乡居民基本医疗保险基金"

    cash = result["psn_cash_pay"]
    assert Decimal(cash["candidate"]) < Decimal(cash["in_force"])
    assert Decimal(cash["difference"]) == Decimal(cash["candidate"]) - Decimal(cash["in_force"])
    # What the funds pay more is what the patients pay less (the bills' totals do not move).
    assert Decimal(result["fund_pay_sumamt"]["difference"]) == -Decimal(cash["difference"])
    assert sum(Decimal(f["difference"]) for f in funds.values()) == Decimal(
        result["fund_pay_sumamt"]["difference"]
    )
    assert result["patients_paying_less"] >= 1
    assert result["patients_paying_more"] == 0
    assert (
        result["patients_paying_less"] + result["patients_paying_same"] == result["patients"] == 5
    )

    assert await row_counts(sim_svc.url) == before  # nothing stored, not even an audit record


async def test_a_bad_candidate_is_a_422_naming_the_key(sim_svc: Service) -> None:
    day = await some_bills(sim_svc)
    text = raised_basic_ratio(policy_text(day), ratio="1.5")
    response = await simulate(sim_svc, text, day)
    assert response.status_code == 422, response.text
    field = response.json()["errors"][0]["field"]
    assert field.startswith("policy.funds[0]")
    assert "ratio" in field

    broken = await simulate(sim_svc, "version = ", day)
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["field"] == "policy"

    backwards = await sim_svc.client.post(
        "/v1/policies/simulate",
        json={"policy": policy_text(day), "from": "2026-02-01", "to": "2026-01-01"},
        headers=admin_headers(),
    )
    assert backwards.status_code == 422
    hospital = await sim_svc.hospital()
    forbidden = await sim_svc.client.post(
        "/v1/policies/simulate",
        json={"policy": policy_text(day), "from": day.isoformat(), "to": day.isoformat()},
        headers=hospital.headers(),
    )
    assert forbidden.status_code == 403


def test_earlier_bills_of_the_year_are_re_run_first() -> None:
    """A bill before the period moves the candidate's running totals but is not counted."""
    policy = PolicySet.from_dir(default_policy_dir()).for_date(date(2026, 6, 1))
    items_json = dump_json(
        [
            {
                "code": "X",
                "name": "床位费",
                "category": "A",
                "unit_price": "30000.00",
                "quantity": "1",
            }
        ]
    )
    items = [FeeItem("X", "床位费", "A", Decimal("30000.00"), Decimal(1))]

    def row(setl_id: str, on: date) -> Any:
        return SimpleNamespace(
            refd_setl_flag=0,
            init_setl_id=None,
            setl_id=setl_id,
            id_number="370305198001011237",
            acc_year=on.year,
            setl_date=on,
            visit_type="inpatient",
            hospital_level=2,
            admitted_on=on,
            diagnoses='["J18.900"]',
            categories='["dibao"]',
            items=items_json,
            deltas="{}",
            policy_version=policy.version,
            fund_pay_sumamt=Decimal("0.00"),
            psn_cash_pay=Decimal("0.00"),
        )

    begin = date(2026, 6, 1)
    replay = Replay(policy, begin, begin + timedelta(days=30))
    replay.feed([row("A", date(2026, 3, 1)), row("B", date(2026, 6, 2))])
    assert replay.replayed == 2
    assert replay.bills == 1

    first = compute(
        policy, hospital_level=2, visit_type="inpatient", aid_class="key", items=items, totals={}
    )
    second = compute(
        policy,
        hospital_level=2,
        visit_type="inpatient",
        aid_class="key",
        items=items,
        totals=apply_deltas({}, first.deltas),
    )
    assert replay.fund_sum[1] == second.fund_pay_sumamt
    assert replay.cash_sum[1] == second.psn_cash_pay
    assert replay.fund_sum[1] != first.fund_pay_sumamt  # the warm-up bill made a difference


def test_a_reversal_books_the_negative_of_the_candidates_bill() -> None:
    """Bill A, its reversal, then bill B, as they happened: B is re-run on totals without A,
    and the reversal counts the negative of what the candidate paid on A."""
    policy = PolicySet.from_dir(default_policy_dir()).for_date(date(2026, 6, 1))
    items_json = dump_json(
        [
            {
                "code": "X",
                "name": "床位费",
                "category": "A",
                "unit_price": "30000.00",
                "quantity": "1",
            }
        ]
    )
    items = [FeeItem("X", "床位费", "A", Decimal("30000.00"), Decimal(1))]
    one = compute(
        policy, hospital_level=2, visit_type="inpatient", aid_class="key", items=items, totals={}
    )

    def row(setl_id: str, on: date, *, reverses: str | None = None) -> Any:
        sign = -1 if reverses else 1
        return SimpleNamespace(
            setl_id=setl_id,
            refd_setl_flag=1 if reverses else 0,
            init_setl_id=reverses,
            id_number="370305198001011237",
            acc_year=on.year,
            setl_date=on,
            visit_type="inpatient",
            hospital_level=2,
            admitted_on=on,
            diagnoses='["J18.900"]',
            categories='["dibao"]',
            items="[]" if reverses else items_json,
            deltas="{}",
            policy_version=policy.version,
            fund_pay_sumamt=one.fund_pay_sumamt * sign,
            psn_cash_pay=one.psn_cash_pay * sign,
        )

    begin = date(2026, 6, 1)
    replay = Replay(policy, begin, begin + timedelta(days=30))
    replay.feed(
        [
            row("A", date(2026, 6, 1)),
            row("RA", date(2026, 6, 2), reverses="A"),
            row("B", date(2026, 6, 3)),
        ]
    )
    assert (replay.replayed, replay.bills, replay.reversals) == (3, 3, 1)
    # The policy in force reproduces the stored records: A and B alike (A was taken back out
    # of the totals before B), the reversal exactly the negative of A.
    assert replay.fund_sum == (one.fund_pay_sumamt, one.fund_pay_sumamt)
    assert replay.cash_sum == (one.psn_cash_pay, one.psn_cash_pay)

    # A period that holds only the reversal: the candidate's figure is the negative of A's.
    later = Replay(policy, date(2026, 6, 2), date(2026, 6, 2))
    later.feed([row("A", date(2026, 6, 1)), row("RA", date(2026, 6, 2), reverses="A")])
    assert later.bills == later.reversals == 1
    assert later.fund_sum == (-one.fund_pay_sumamt, -one.fund_pay_sumamt)
    assert sum(later.paid.values()) == -one.fund_pay_sumamt
