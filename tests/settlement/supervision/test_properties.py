"""Properties of the per-bill rules (pure evaluation) against plain restatements of the
rules: each fires exactly when its condition holds, at most once per bill, and a message
never names another hospital's bill."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.supervision.evaluation import (
    Line,
    Median,
    Medians,
    OtherBill,
    SettleFacts,
    evaluate,
    item_outlier,
    quantity_beyond_stay,
    readmission,
    same_day_outpatient,
)
from settlement.supervision.rules import (
    OutlierRule,
    QuantityRule,
    ReadmissionRule,
    SameDayRule,
    default_rules_file,
    load_rules_file,
)

RULES = load_rules_file(default_rules_file())
QUANTITY = RULES.by_code("QTY-STAY")
READMISSION = RULES.by_code("READMIT-15")
SAME_DAY = RULES.by_code("OP-SAME-DAY")
ITEM = RULES.outlier("item")
assert isinstance(QUANTITY, QuantityRule)
assert isinstance(READMISSION, ReadmissionRule)
assert isinstance(SAME_DAY, SameDayRule)
assert isinstance(ITEM, OutlierRule)
BASE = date(2026, 6, 1)
NAMES = ("床位费", "Ⅰ级护理费", "CT检查", "头孢呋辛注射液", "层流病房床位费")
DIAGNOSES = ("J18.900", "J18.1", "I21.9", "K35.8")


def facts(
    *,
    visit_type: str = "inpatient",
    admitted: date = BASE,
    discharged: date = BASE,
    lines: tuple[Line, ...] = (),
    diagnoses: tuple[str, ...] = ("J18.900",),
    hospital: int = 1,
    level: int = 2,
    first_part: bool = True,
) -> SettleFacts:
    return SettleFacts(
        setl_id="S-THIS",
        hospital_id=hospital,
        hospital_level=level,
        visit_id="V-THIS",
        visit_type=visit_type,
        admitted_on=admitted,
        discharged_on=discharged,
        diagnoses=diagnoses,
        first_part=first_part,
        lines=lines,
        stay_lines=lines,
        medfee_sumamt=sum((line.unit_price * line.quantity for line in lines), Decimal(0)),
    )


lines = st.lists(st.tuples(st.sampled_from(NAMES), st.integers(1, 40)), min_size=1, max_size=6).map(
    lambda pairs: tuple(
        Line(f"C{NAMES.index(name)}", name, Decimal(10), Decimal(q)) for name, q in pairs
    )
)


@settings(max_examples=300, deadline=None)
@given(lines, st.integers(0, 30))
def test_quantity_fires_exactly_when_a_per_day_item_exceeds_the_stay_plus_one(
    items: tuple[Line, ...], days: int
) -> None:
    bill = facts(admitted=BASE, discharged=BASE + timedelta(days=days), lines=items)
    totals: dict[str, Decimal] = {}
    for line in items:
        if "床位费" in line.name or "护理费" in line.name:
            totals[line.code] = totals.get(line.code, Decimal(0)) + line.quantity
    expected = any(q > days + 1 for q in totals.values())
    found = quantity_beyond_stay(QUANTITY, bill)
    assert (found is not None) == expected
    if found is not None:
        index = int(found.field.split("[")[1].split("]")[0])
        assert items[index].code in {c for c, q in totals.items() if q > days + 1}


stays = st.lists(
    st.tuples(
        st.integers(1, 3),  # hospital
        st.integers(-40, 40),  # admission, days from BASE
        st.integers(0, 10),  # length
        st.sampled_from(DIAGNOSES),
    ),
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(stays, st.integers(1, 3), st.integers(0, 10), st.sampled_from(DIAGNOSES))
def test_readmission_fires_exactly_for_a_same_category_stay_inside_the_window(
    others_spec: list[tuple[int, int, int, str]], hospital: int, length: int, diagnosis: str
) -> None:
    bill = facts(
        admitted=BASE,
        discharged=BASE + timedelta(days=length),
        diagnoses=(diagnosis,),
        hospital=hospital,
    )
    others = [
        OtherBill(
            f"S-{n}",
            h,
            f"V-{n}",
            "inpatient",
            BASE + timedelta(days=start),
            BASE + timedelta(days=start + size),
            (dx,),
        )
        for n, (h, start, size, dx) in enumerate(others_spec)
    ]

    def hit(o: OtherBill) -> bool:
        if o.diagnoses[0][:3] != diagnosis[:3]:
            return False
        for gap in ((BASE - o.discharged_on).days, (o.admitted_on - bill.discharged_on).days):
            if 0 < gap <= 15 or (gap == 0 and o.hospital_id == hospital):
                return True
        return False

    found = readmission(READMISSION, bill, others)
    assert (found is not None) == any(hit(o) for o in others)
    if found is not None:
        assert "S-" not in found.message  # other bills are named to administrators only
        assert all(s["setl_id"].startswith("S-") for s in found.detail["stays"])
    # Only a stay's first part is checked.
    later_part = facts(
        admitted=BASE, discharged=BASE + timedelta(days=length), diagnoses=(diagnosis,),
        hospital=hospital, first_part=False,
    )  # fmt: skip
    assert readmission(READMISSION, later_part, others) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 2)), max_size=6), st.integers(1, 4))
def test_same_day_fires_exactly_for_more_than_two_bills_at_two_or_more_hospitals(
    spec: list[tuple[int, int]], hospital: int
) -> None:
    bill = facts(visit_type="outpatient")
    others = [
        OtherBill(f"S-{n}", h, f"V-{n}", "outpatient", BASE + timedelta(days=d),
                  BASE + timedelta(days=d), ())
        for n, (h, d) in enumerate(spec)
    ]  # fmt: skip
    today = [o for o in others if o.admitted_on == BASE]
    hospitals = {hospital, *(o.hospital_id for o in today)}
    expected = len(hospitals) >= 2 and len(today) + 1 > 2
    bill = facts(visit_type="outpatient", hospital=hospital)
    assert (same_day_outpatient(SAME_DAY, bill, others) is not None) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 100_000), min_size=1, max_size=5),
    st.integers(1, 20_000),
    st.integers(0, 40),
)
def test_item_outlier_fires_exactly_above_the_multiple_of_a_sound_median(
    amounts: list[int], median_fen: int, samples: int
) -> None:
    items = tuple(
        Line("CT", "CT检查", Decimal(a) / 100, Decimal(1), Decimal(a) / 100 if a % 2 else None)
        for a in amounts
    )
    median = Decimal(median_fen) / 100
    stats = Medians({("item", "CT", 2): Median(median, samples)})
    expected = samples >= 20 and any(Decimal(a) / 100 > 5 * median for a in amounts)
    assert (item_outlier(ITEM, facts(lines=items), stats) is not None) == expected
    # Another level has no median: never.
    assert item_outlier(ITEM, facts(lines=items, level=3), stats) is None


@settings(max_examples=200, deadline=None)
@given(lines, stays, st.integers(0, 12))
def test_every_rule_fires_at_most_once_per_bill(
    items: tuple[Line, ...], others_spec: list[tuple[int, int, int, str]], days: int
) -> None:
    bill = facts(discharged=BASE + timedelta(days=days), lines=items)
    others = [
        OtherBill(f"S-{n}", h, f"V-{n}", "inpatient", BASE + timedelta(days=s),
                  BASE + timedelta(days=s + z), (dx,))
        for n, (h, s, z, dx) in enumerate(others_spec)
    ]  # fmt: skip
    found = evaluate(RULES, bill, others, Medians())
    codes = [f.rule.code for f in found]
    assert len(codes) == len(set(codes))
    assert all(f.rule.per_bill for f in found)
