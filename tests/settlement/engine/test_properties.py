"""Properties of the engine over generated bills and years of bills (hypothesis)."""

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
    default_policy_dir,
    load_policy,
    remaining_limits,
    to_be_absorbed,
)
from settlement.engine.params import CriticalIllnessTier, CumulativeTier
from settlement.engine.rules import critical_illness_target, target

from .helpers import P2017, P2020, D, check_invariants
from .test_policy import SAMPLE, without_fund

PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SEQUENCES = settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

POLICIES = st.sampled_from([P2017, P2020])
LEVELS = st.sampled_from([1, 2, 3])
VISITS: st.SearchStrategy[VisitType] = st.sampled_from(["inpatient", "outpatient"])
CLASSES: st.SearchStrategy[AidClass] = st.sampled_from(["key", "assisted", "none"])


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Amounts in yuan with two decimals, from whole fen."""
    return st.integers(low, high).map(lambda c: Decimal(c).scaleb(-2))


prices = st.one_of(cents(0, 50_000), cents(0, 5_000_000), cents(0, 40_000_000))
quantities = st.one_of(
    st.integers(1, 30).map(Decimal),
    st.integers(1, 5000).map(lambda q: Decimal(q).scaleb(-3)),  # e.g. 0.5 of a pack
)
ratios = st.sampled_from([D("0"), D("0.05"), D("0.10"), D("0.15"), D("0.20"), D("0.333"), D("1")])


@st.composite
def fee_items(draw: st.DrawFn) -> FeeItem:
    price = draw(prices)
    cap = draw(st.one_of(st.none(), prices))
    return FeeItem(
        code=f"X{draw(st.integers(0, 999)):03d}",
        name="item",
        category=draw(st.sampled_from(["A", "B", "C"])),
        unit_price=price,
        quantity=draw(quantities),
        self_pay_ratio=draw(st.one_of(st.none(), ratios)),
        price_cap=cap,
    )


item_lists = st.lists(fee_items(), min_size=1, max_size=6)

totals_maps = st.dictionaries(
    st.sampled_from(
        [
            "390100.inpatient",
            "390100.outpatient",
            "390200.base",
            "390200",
            "610100",
            "640100.cash_base",
            "640100",
            "temporary_assistance",
        ]
    ),
    st.one_of(cents(0, 100_000), cents(0, 100_000_000)),
)


@dataclass(frozen=True)
class Visit:
    level: int
    visit_type: VisitType
    items: tuple[FeeItem, ...]


visits = st.builds(Visit, LEVELS, VISITS, item_lists.map(tuple))
NO_GRANT = D("0")


def run(
    policy: Policy,
    visit: Visit,
    aid: AidClass,
    totals: dict[str, Decimal],
    grant: Decimal = NO_GRANT,
) -> Bill:
    return compute(
        policy,
        hospital_level=visit.level,
        visit_type=visit.visit_type,
        aid_class=aid,
        items=visit.items,
        totals=totals,
        grant_balance=grant,
    )


def run_year(
    policy: Policy, year: Sequence[Visit], aid: AidClass
) -> tuple[list[Bill], dict[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    bills = []
    for visit in year:
        bill = run(policy, visit, aid, totals)
        bills.append(bill)
        totals = apply_deltas(totals, bill.deltas)
    return bills, totals


@PROPERTY
@given(POLICIES, visits, CLASSES, totals_maps, st.one_of(st.just(D("0")), cents(0, 1_000_000)))
def test_bill_invariants(
    policy: Policy, visit: Visit, aid: AidClass, totals: dict[str, Decimal], grant: Decimal
) -> None:
    bill = run(policy, visit, aid, totals, grant)
    check_invariants(bill)
    assert bill.act_pay_dedc <= bill.inscp_scp_amt
    if grant:
        assert bill.setldetail[-1].fund_pay_type == policy.temporary_assistance_code
        assert bill.setldetail[-1].fund_payamt <= grant
    # Each fund row's limit is what remaining_limits says is left (one piece of limit logic).
    left = {
        (x.fund_pay_type, x.visit_type): x.remaining
        for x in remaining_limits(policy, aid_class=aid, totals=totals)
    }
    for detail in bill.setldetail:
        if detail.fund_pay_type == policy.temporary_assistance_code:
            continue
        key = (
            detail.fund_pay_type,
            visit.visit_type if (detail.fund_pay_type, visit.visit_type) in left else None,
        )
        assert detail.crt_payb_lmt_amt == left[key]


@SEQUENCES
@given(POLICIES, st.lists(visits, min_size=1, max_size=6), CLASSES)
def test_no_fund_pays_past_its_annual_limit(
    policy: Policy, year: list[Visit], aid: AidClass
) -> None:
    bills, totals = run_year(policy, year, aid)
    for bill in bills:
        check_invariants(bill)
    for limit in remaining_limits(policy, aid_class=aid, totals=totals):
        if limit.annual_limit is not None:
            assert limit.paid_this_year <= limit.annual_limit
        assert limit.remaining is None or limit.remaining >= 0
    # The running totals are the sums over the year's bills.
    assert totals.get("390100.inpatient", D(0)) == sum(
        (b.hifp_pay for b in bills if b.visit_type == "inpatient"), D(0)
    )
    assert totals.get("390100.outpatient", D(0)) == sum(
        (b.hifp_pay for b in bills if b.visit_type == "outpatient"), D(0)
    )
    assert totals.get("390200", D(0)) == sum((b.hifmi_pay for b in bills), D(0))
    assert totals.get("610100", D(0)) == sum((b.maf_pay for b in bills), D(0))
    assert totals.get("640100", D(0)) == sum((b.oth_pay for b in bills), D(0))


@SEQUENCES
@given(POLICIES, st.lists(st.tuples(visits, CLASSES), min_size=1, max_size=6))
def test_class_changing_during_the_year_never_overpays(
    policy: Policy, year: list[tuple[Visit, AidClass]]
) -> None:
    totals: dict[str, Decimal] = {}
    for visit, aid in year:
        bill = run(policy, visit, aid, totals)
        check_invariants(bill)  # includes fund_payamt ≤ crt_payb_lmt_amt on every row
        totals = apply_deltas(totals, bill.deltas)
    caps = {
        "390100.inpatient": D("200000"),
        "390100.outpatient": D("300"),
        "390200": D("500000"),
        "610100": D("60000"),
    }
    for key, cap in caps.items():
        assert totals.get(key, D(0)) <= cap


NO_BASIC = load_policy(without_fund(SAMPLE, "basic"))


@SEQUENCES
@given(st.lists(cents(1, 30_000_000), min_size=1, max_size=8), st.data(), CLASSES)
def test_critical_illness_total_does_not_depend_on_the_split(
    amounts: list[Decimal], data: st.DataObject, aid: AidClass
) -> None:
    # Without the basic tier the critical-illness base is the in-scope amount itself.
    whole = compute(
        NO_BASIC,
        hospital_level=1,
        visit_type="inpatient",
        aid_class=aid,
        items=[FeeItem("X", "x", "A", a, D(1)) for a in amounts],
        totals={},
    )
    cuts = sorted(data.draw(st.sets(st.integers(1, len(amounts) - 1)))) if len(amounts) > 1 else []
    groups = [amounts[i:j] for i, j in zip([0, *cuts], [*cuts, len(amounts)], strict=True)]
    totals: dict[str, Decimal] = {}
    paid = D(0)
    for group in groups:
        bill = compute(
            NO_BASIC,
            hospital_level=1,
            visit_type="inpatient",
            aid_class=aid,
            items=[FeeItem("X", "x", "A", a, D(1)) for a in group],
            totals=totals,
        )
        paid += bill.hifmi_pay
        totals = apply_deltas(totals, bill.deltas)
    assert paid == whole.hifmi_pay


@SEQUENCES
@given(POLICIES, st.lists(visits, min_size=2, max_size=6), st.data())
def test_critical_illness_split_with_basic_insurance(
    policy: Policy, year: list[Visit], data: st.DataObject
) -> None:
    # With basic insurance in front, the fund's year total is F(the year's base), however the
    # base came in.
    aid = data.draw(CLASSES)
    bills, totals = run_year(policy, year, aid)
    fund = next(f for f in policy.funds if isinstance(f, CriticalIllnessTier))
    year_base = totals.get("390200.base", D(0))
    assert sum((b.hifmi_pay for b in bills), D(0)) == critical_illness_target(fund, aid, year_base)


@PROPERTY
@given(
    POLICIES,
    visits,
    CLASSES,
    totals_maps,
    st.one_of(st.just(D("0")), cents(0, 100_000)),
    fee_items(),
    st.data(),
)
def test_more_cost_never_lowers_patient_or_fund_share(
    policy: Policy,
    visit: Visit,
    aid: AidClass,
    totals: dict[str, Decimal],
    grant: Decimal,
    extra: FeeItem,
    data: st.DataObject,
) -> None:
    base = run(policy, visit, aid, totals, grant)
    # Adding an item.
    more = run(policy, replace(visit, items=(*visit.items, extra)), aid, totals, grant)
    assert more.psn_cash_pay >= base.psn_cash_pay
    assert more.fund_pay_sumamt >= base.fund_pay_sumamt
    # Raising the price of one item.
    index = data.draw(st.integers(0, len(visit.items) - 1))
    raised = list(visit.items)
    raised[index] = raised[index]._replace(
        unit_price=raised[index].unit_price + data.draw(cents(1, 5_000_000))
    )
    dearer = run(policy, replace(visit, items=tuple(raised)), aid, totals, grant)
    assert dearer.psn_cash_pay >= base.psn_cash_pay
    assert dearer.fund_pay_sumamt >= base.fund_pay_sumamt


@SEQUENCES
@given(POLICIES, st.lists(visits, min_size=1, max_size=6))
def test_key_patient_never_pays_more_in_a_year(policy: Policy, year: list[Visit]) -> None:
    paid = {
        aid: sum((b.psn_cash_pay for b in run_year(policy, year, aid)[0]), D(0))
        for aid in ("key", "assisted", "none")
    }
    assert paid["key"] <= paid["none"]
    assert paid["key"] <= paid["assisted"]
    assert paid["assisted"] <= paid["none"]


@PROPERTY
@given(totals_maps, POLICIES, visits, CLASSES)
def test_apply_deltas_round_trip(
    totals: dict[str, Decimal], policy: Policy, visit: Visit, aid: AidClass
) -> None:
    bill = run(policy, visit, aid, totals)
    start = {k: v for k, v in totals.items() if v}
    moved = apply_deltas(start, bill.deltas, +1)
    assert apply_deltas(moved, bill.deltas, -1) == start


# A policy whose cumulative tiers hit their limits quickly, with falling band ratios (so a
# revoke can also leave a tier below its target, not only above it).
TIGHT = load_policy(
    (default_policy_dir() / "2020.toml")
    .read_text(encoding="utf-8")
    .replace('version = "2020"', 'version = "tight"')
    .replace(
        "annual_cap = { default = 400000, key = 500000 }",
        "annual_cap = { default = 15000, key = 20000 }",
    )
    .replace("ratio = { default = 0.50, key = 0.55 }", "ratio = { default = 0.80, key = 0.90 }")
    .replace("ratio = { default = 0.70, key = 0.75 }", "ratio = { default = 0.30, key = 0.35 }")
    .replace("threshold = 5000", "threshold = 5000\nannual_limit = { key = 2000 }")
)

stay_items = st.lists(
    st.builds(
        lambda category, price: FeeItem("X", "x", category, price, D(1)),
        st.sampled_from(["A", "A", "B", "C"]),
        st.one_of(cents(1_000_000, 30_000_000), cents(0, 2_000_000)),
    ),
    min_size=1,
    max_size=3,
).map(tuple)
stays = st.builds(
    Visit, LEVELS, st.sampled_from(["inpatient", "inpatient", "outpatient"]), stay_items
)
# A settle (a visit) or a revoke (of the n-th bill still standing, modulo their number).
operations = st.lists(st.one_of(stays, stays, st.integers(0, 50)), min_size=3, max_size=14)


@settings(SEQUENCES, max_examples=150)
@given(st.sampled_from([P2017, P2020, TIGHT]), CLASSES, operations)
def test_cumulative_tiers_pay_target_minus_paid_after_any_revokes(
    policy: Policy, aid: AidClass, ops: list[Visit | int]
) -> None:
    # One person-year of settles and revokes in any order. After each settle, for every
    # cumulative tier that took part: paid after = min(limit, max(target(base after), paid
    # before)) — the year's Σ paid = target(Σ base) once a bill is large enough to absorb what
    # revokes left — and otherwise the tier paid the whole of this bill's base towards it.
    tiers = [t for t in policy.funds if isinstance(t, CumulativeTier) and aid in t.aid_classes]
    standing: list[Bill] = []
    totals: dict[str, Decimal] = {}
    zero = D("0")
    for op in ops:
        if isinstance(op, int):
            if standing:
                totals = apply_deltas(totals, standing.pop(op % len(standing)).deltas, -1)
            continue
        bill = run(policy, op, aid, totals)
        check_invariants(bill)
        after = apply_deltas(totals, bill.deltas)
        for tier in tiers:
            if op.visit_type not in tier.visit_types:
                continue
            paid_before = totals.get(tier.code, zero)
            paid_after = after.get(tier.code, zero)
            base_after = after.get(tier.base_key, zero)
            limit = tier.annual_limit[aid]
            owed = target(tier, aid, base_after)
            if limit is not None:
                owed = min(limit, owed)
                assert paid_after <= limit
            expected = max(owed, paid_before)
            assert paid_after >= paid_before
            this_base = bill.deltas.get(tier.base_key, zero)
            if expected - paid_before <= this_base:
                assert paid_after == expected
            else:
                event(f"{tier.kind}: owed more than this bill's base")
                assert paid_after == paid_before + this_base
            if to_be_absorbed(policy, aid_class=aid, totals=totals).get(tier.code):
                event(f"{tier.kind}: a settle absorbs an overpayment a revoke left")
            absorb = to_be_absorbed(policy, aid_class=aid, totals=after).get(tier.code, zero)
            assert absorb == max(zero, paid_after - owed)
        standing.append(bill)
        totals = after
    # The running totals are the sums over the bills still standing.
    for key in {k for b in standing for k in b.deltas}:
        assert totals.get(key, zero) == sum((b.deltas.get(key, zero) for b in standing), zero)
