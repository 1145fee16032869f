"""Properties of the whole ladder (the 2023 sample and a variant whose limits bind quickly) over
generated bills, years of bills and settle/revoke sequences (hypothesis): amounts add up,
nothing is negative, no fund or disease group pays past its limit, every cumulative tier —
critical illness, graded and secondary assistance, the bottom line — pays target − paid
whatever the order of settles and revokes, and a programme's patient share holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from settlement.engine import (
    AidClass,
    Bill,
    FeeItem,
    Policy,
    VisitType,
    apply_deltas,
    compute,
    load_policy,
    remaining_limits,
    to_be_absorbed,
)
from settlement.engine.params import (
    CumulativeTier,
    DiseaseProgrammeTier,
    OutpatientChronicTier,
    SupplementaryTier,
)
from settlement.engine.rules import target

from .helpers import P2023, D, check_invariants
from .test_ladder_policy import LADDER

PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SEQUENCES = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def tightened(text: str) -> str:
    """The 2023 ladder with small limits, so caps, annual limits and the programme fund's limit
    bind within a few bills (the plan's guard would refuse it at start-up; the engine reads
    it)."""
    for old, new in (
        ('version = "2023"', 'version = "2023-tight"'),
        ("annual_cap = 60000\ncritical_illness", "annual_cap = 9000\ncritical_illness"),
        ("annual_cap = 50000\ncritical_illness", "annual_cap = 4000\ncritical_illness"),
        ("deductible = 0\nratio = 0.80", "deductible = { default = 800, key = 100 }\nratio = 0.80"),
        (
            "annual_cap = { default = 400000, key = 500000 }",
            "annual_cap = { default = 15000, key = 20000 }",
        ),
        (
            "deductible = 0\nratio = 0.50\nannual_cap = 50000",
            "deductible = 300\nratio = 0.50\n"
            "out_of_scope_ratio = { key = 0.20, assisted = 0 }\nannual_cap = 2500",
        ),
        (
            "annual_limit = { key = 60000, assisted = 30000 }",
            "annual_limit = { key = 4000, assisted = 2000 }",
        ),
        ("up_to = 10000\nratio = { key = 0.70", "up_to = 3000\nratio = { key = 0.70"),
        ("annual_limit = 20000", "annual_limit = 1500"),
        ("annual_limit = 100000", "annual_limit = 2500"),
        (
            'setlinfo_field = "maf_pay"\n\n# Disease',
            'setlinfo_field = "maf_pay"\nannual_limit = 1200\n\n# Disease',
        ),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


TIGHT = load_policy(tightened(LADDER), source="2023-tight.toml")
LADDERS = st.sampled_from([P2023, TIGHT])
LEVELS = st.sampled_from([1, 2, 3])
VISITS: st.SearchStrategy[VisitType] = st.sampled_from(["inpatient", "outpatient"])
CLASSES: st.SearchStrategy[AidClass] = st.sampled_from(["key", "assisted", "none"])
# Diagnoses: each programme, each chronic-disease group, both, and none of them.
DIAGNOSES = st.sampled_from(
    [
        (),
        ("J18.900",),
        ("H25.901",),
        ("H26.0",),
        ("C91.000",),
        ("Q21.1",),
        ("C16.9", "I10"),
        ("N18.500",),
        ("Z49.1",),
        ("Z51.100", "C50.9"),
        ("I10.x00",),
        ("E11.9", "N18.5"),
    ]
)
AGES = st.one_of(st.none(), st.integers(0, 95))


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda c: Decimal(c).scaleb(-2))


prices = st.one_of(cents(0, 50_000), cents(0, 3_000_000), cents(0, 20_000_000))
quantities = st.one_of(
    st.integers(1, 20).map(Decimal), st.integers(1, 5000).map(lambda q: Decimal(q).scaleb(-3))
)


@st.composite
def fee_items(draw: st.DrawFn) -> FeeItem:
    return FeeItem(
        code="X",
        name="item",
        category=draw(st.sampled_from(["A", "A", "B", "C"])),
        unit_price=draw(prices),
        quantity=draw(quantities),
        self_pay_ratio=draw(st.one_of(st.none(), st.sampled_from([D("0"), D("0.1"), D("0.3")]))),
        price_cap=draw(st.one_of(st.none(), prices)),
    )


@dataclass(frozen=True)
class Visit:
    level: int
    visit_type: VisitType
    items: tuple[FeeItem, ...]
    diagnoses: tuple[str, ...]
    age: int | None


visits = st.builds(
    Visit,
    LEVELS,
    VISITS,
    st.lists(fee_items(), min_size=1, max_size=5).map(tuple),
    DIAGNOSES,
    AGES,
)

RUNNING_KEYS = [
    "390100.inpatient",
    "390100.outpatient",
    "390101.dialysis",
    "390101.dialysis.dedc",
    "390101.cancer",
    "390101.hypertension_diabetes.dedc",
    "390200.base",
    "390200",
    "990101",
    "990101.dedc",
    "610100.base",
    "610100",
    "610300.cash_base",
    "610300",
    "640100.cash_base",
    "640100",
    "610400",
]
totals_maps = st.dictionaries(
    st.sampled_from(RUNNING_KEYS), st.one_of(cents(0, 100_000), cents(0, 100_000_000))
)


def run(
    policy: Policy, visit: Visit, aid: AidClass, totals: dict[str, Decimal], grant: str = "0"
) -> Bill:
    return compute(
        policy,
        hospital_level=visit.level,
        visit_type=visit.visit_type,
        aid_class=aid,
        items=visit.items,
        totals=totals,
        grant_balance=D(grant),
        diagnoses=visit.diagnoses,
        age=visit.age,
    )


def limit_rows(policy: Policy, aid: AidClass, totals: dict[str, Decimal]) -> dict[tuple, object]:
    return {
        (x.fund_pay_type, x.visit_type, x.group): x
        for x in remaining_limits(policy, aid_class=aid, totals=totals)
    }


def check_limits(policy: Policy, aid: AidClass, totals: dict[str, Decimal]) -> None:
    """No fund (nor chronic-disease group) past its annual limit; yearly deductibles taken at
    most once."""
    for limit in remaining_limits(policy, aid_class=aid, totals=totals):
        if limit.annual_limit is not None:
            assert limit.paid_this_year <= limit.annual_limit, limit
            assert limit.remaining == limit.annual_limit - limit.paid_this_year
    for tier in policy.funds:
        if isinstance(tier, OutpatientChronicTier) and aid in tier.aid_classes:
            for group in tier.groups:
                assert totals.get(group.deductible_key, D(0)) <= group.deductible[aid]
        if isinstance(tier, SupplementaryTier) and aid in tier.aid_classes:
            assert totals.get(tier.deductible_key, D(0)) <= tier.deductible[aid]


@PROPERTY
@given(LADDERS, visits, CLASSES, totals_maps, st.sampled_from(["0", "0", "500.00"]))
def test_every_ladder_bill_adds_up(
    policy: Policy, visit: Visit, aid: AidClass, totals: dict[str, Decimal], grant: str
) -> None:
    bill = run(policy, visit, aid, totals, grant)
    check_invariants(bill)
    assert bill.act_pay_dedc <= bill.inscp_scp_amt
    # Each fund row's limit is what the accumulators answer says is left.
    left = limit_rows(policy, aid, totals)
    group = next((s["group"] for s in bill.trace if s["step"] == "chronic_disease"), None)
    for d in bill.setldetail:
        if d.fund_pay_type == policy.temporary_assistance_code:
            continue
        key = next(
            k
            for k in (
                (d.fund_pay_type, visit.visit_type, group),
                (d.fund_pay_type, visit.visit_type, None),
                (d.fund_pay_type, None, None),
            )
            if k in left
        )
        assert d.crt_payb_lmt_amt == left[key].remaining  # type: ignore[attr-defined]
    # A programme's visit: the patient keeps at most the programme's share of the in-scope
    # amount, unless the programme's fund reached its limit.
    programme = next(
        (
            p
            for p in policy.programmes
            if any(s.get("name") == p.name for s in bill.trace if s["step"] == "programme")
        ),
        None,
    )
    if programme is not None and grant == "0":
        event("a programme's visit")
        fund = next(d for d in bill.setldetail if d.fund_pay_type == programme.fund)
        in_scope_left = bill.psn_cash_pay - (
            bill.fulamt_ownpay_amt + bill.overlmt_selfpay + bill.preselfpay_amt
        )
        if fund.crt_payb_lmt_amt is None or fund.fund_payamt < fund.crt_payb_lmt_amt:
            assert in_scope_left <= programme.patient_part(bill.inscp_scp_amt)
    # A tier that does not take part has no row: no programme fund without a programme, no
    # chronic-disease fund without a group.
    kinds = {t.code: t for t in policy.funds}
    for d in bill.setldetail:
        tier = kinds.get(d.fund_pay_type)
        if isinstance(tier, DiseaseProgrammeTier):
            assert programme is not None
        if isinstance(tier, OutpatientChronicTier):
            assert group is not None
            assert visit.visit_type == "outpatient"


def run_year(
    policy: Policy, year: Sequence[Visit], aid: AidClass
) -> tuple[list[Bill], dict[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    bills = []
    for visit in year:
        bill = run(policy, visit, aid, totals)
        check_invariants(bill)
        bills.append(bill)
        totals = apply_deltas(totals, bill.deltas)
    return bills, totals


@SEQUENCES
@given(LADDERS, st.lists(visits, min_size=1, max_size=8), CLASSES)
def test_a_year_of_ladder_bills_stays_inside_every_limit(
    policy: Policy, year: list[Visit], aid: AidClass
) -> None:
    bills, totals = run_year(policy, year, aid)
    check_limits(policy, aid, totals)
    # The running totals are the sums over the year's bills, per fund.
    for tier in policy.funds:
        if tier.kind == "basic" or isinstance(tier, OutpatientChronicTier):
            continue
        paid = sum(
            (d.fund_payamt for b in bills for d in b.setldetail if d.fund_pay_type == tier.code),
            D(0),
        )
        assert totals.get(tier.code, D(0)) == paid, tier.code
    # Every cumulative tier has paid, over the year, exactly its target of the year's base:
    # splitting the year into bills (and chronic-disease visits counting toward critical
    # illness) never changes what it pays.
    for tier in policy.funds:
        if isinstance(tier, CumulativeTier) and aid in tier.aid_classes:
            year_base = totals.get(tier.base_key, D(0))
            assert totals.get(tier.code, D(0)) == target(tier, aid, year_base), tier.kind


@SEQUENCES
@given(LADDERS, st.lists(visits, min_size=2, max_size=6), CLASSES, st.data())
def test_cumulative_ladder_tiers_do_not_depend_on_the_split(
    policy: Policy, year: list[Visit], aid: AidClass, data: st.DataObject
) -> None:
    # The same visits, with one of them cut in two bills (its items split): each cumulative
    # tier's year total is its target of the year's base either way.
    index = data.draw(st.integers(0, len(year) - 1))
    visit = year[index]
    if len(visit.items) < 2:
        return
    cut = data.draw(st.integers(1, len(visit.items) - 1))
    split = [
        *year[:index],
        replace(visit, items=visit.items[:cut]),
        replace(visit, items=visit.items[cut:]),
        *year[index + 1 :],
    ]
    for visits_of_year in (year, split):
        _, totals = run_year(policy, visits_of_year, aid)
        for tier in policy.funds:
            if isinstance(tier, CumulativeTier) and aid in tier.aid_classes:
                base = totals.get(tier.base_key, D(0))
                assert totals.get(tier.code, D(0)) == target(tier, aid, base)


# Stays large enough to reach the thresholds and limits of the year.
stays = st.builds(
    Visit,
    LEVELS,
    st.sampled_from(["inpatient", "inpatient", "outpatient"]),
    st.lists(
        st.builds(
            lambda category, price: FeeItem("X", "x", category, price, D(1)),
            st.sampled_from(["A", "A", "B", "C"]),
            st.one_of(cents(500_000, 10_000_000), cents(0, 1_000_000)),
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
    DIAGNOSES,
    AGES,
)
# A settle (a visit) or a revoke (of the n-th bill still standing, modulo their number).
operations = st.lists(st.one_of(stays, stays, st.integers(0, 50)), min_size=4, max_size=16)


@settings(SEQUENCES, max_examples=200)
@given(LADDERS, st.sampled_from(["key", "key", "assisted", "none"]), operations)
def test_ladder_tiers_pay_target_minus_paid_after_any_revokes(
    policy: Policy, aid: AidClass, ops: list[Visit | int]
) -> None:
    # One person-year of settles and revokes in any order. After each settle, for every
    # cumulative tier that took part: paid after = min(limit, max(target(base after), paid
    # before)), or the whole of this bill's base when the tier owes more than that.
    tiers = [t for t in policy.funds if isinstance(t, CumulativeTier) and aid in t.aid_classes]
    standing: list[Bill] = []
    totals: dict[str, Decimal] = {}
    zero = D("0")
    for op in ops:
        if isinstance(op, int):
            if standing:
                totals = apply_deltas(totals, standing.pop(op % len(standing)).deltas, -1)
                check_limits(policy, aid, totals)
            continue
        bill = run(policy, op, aid, totals)
        check_invariants(bill)
        after = apply_deltas(totals, bill.deltas)
        check_limits(policy, aid, after)
        took_part = {s.get("fund_pay_type") for s in bill.trace}
        for tier in tiers:
            if tier.code not in took_part:
                continue
            paid_before = totals.get(tier.code, zero)
            paid_after = after.get(tier.code, zero)
            base_after = after.get(tier.base_key, zero)
            owed = target(tier, aid, base_after)
            limit = tier.annual_limit[aid]
            if limit is not None:
                assert paid_after <= limit
            expected = max(owed, paid_before)
            assert paid_after >= paid_before
            this_base = bill.deltas.get(tier.base_key, zero)
            if expected - paid_before <= this_base:
                assert paid_after == expected, tier.kind
            else:
                event(f"{tier.kind}: owed more than this bill's base")
                assert paid_after == paid_before + this_base
            absorb = to_be_absorbed(policy, aid_class=aid, totals=after).get(tier.code, zero)
            if absorb:
                event(f"{tier.kind}: an overpayment a revoke left")
            assert absorb == max(zero, paid_after - owed)
        standing.append(bill)
        totals = after
    # The running totals are the sums over the bills still standing.
    for key in {k for b in standing for k in b.deltas}:
        assert totals.get(key, zero) == sum((b.deltas.get(key, zero) for b in standing), zero)


@PROPERTY
@given(LADDERS, visits, CLASSES, totals_maps)
def test_ladder_deltas_round_trip(
    policy: Policy, visit: Visit, aid: AidClass, totals: dict[str, Decimal]
) -> None:
    bill = run(policy, visit, aid, totals)
    start = {k: v for k, v in totals.items() if v}
    assert apply_deltas(apply_deltas(start, bill.deltas), bill.deltas, -1) == start


@PROPERTY
@given(LADDERS, visits, CLASSES, totals_maps, fee_items())
def test_more_cost_never_lowers_the_patient_or_fund_share(
    policy: Policy, visit: Visit, aid: AidClass, totals: dict[str, Decimal], extra: FeeItem
) -> None:
    base = run(policy, visit, aid, totals)
    more = run(policy, replace(visit, items=(*visit.items, extra)), aid, totals)
    assert more.psn_cash_pay >= base.psn_cash_pay
    assert more.fund_pay_sumamt >= base.fund_pay_sumamt


@SEQUENCES
@given(st.lists(visits, min_size=1, max_size=6))
def test_a_key_patient_never_pays_more_in_a_ladder_year(year: list[Visit]) -> None:
    paid = {
        aid: sum((b.psn_cash_pay for b in run_year(P2023, year, aid)[0]), D(0))
        for aid in ("key", "assisted", "none")
    }
    assert paid["key"] <= paid["assisted"] <= paid["none"]
