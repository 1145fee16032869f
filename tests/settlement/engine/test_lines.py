"""Per-line results of the engine (``Bill.lines``): each fee item's split after scope."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from settlement.engine import LINE_SPLIT_FIELDS, AidClass, FeeItem, Policy, compute, item_amount

from .helpers import P2020, D
from .test_properties import CLASSES, POLICIES, PROPERTY, item_lists


def item(category: str, price: str, quantity: str = "1", **extra: object) -> FeeItem:
    return FeeItem(
        code="X",
        name="item",
        category=category,  # type: ignore[arg-type]
        unit_price=D(price),
        quantity=D(quantity),
        **extra,  # type: ignore[arg-type]
    )


def test_each_line_is_split_as_the_issue_states() -> None:
    items = [
        item("A", "60.00", "10"),
        item("B", "38.50", "20", self_pay_ratio=D("0.10")),
        item("A", "280.00", price_cap=D("250.00")),
        item("C", "25.00", "10"),
        item("B", "100.00", "3", price_cap=D("90.00")),  # policy default ratio (0.10 in 2020)
    ]
    bill = compute(
        P2020, hospital_level=2, visit_type="inpatient", aid_class="key", items=items, totals={}
    )
    assert LINE_SPLIT_FIELDS == (
        "fulamt_ownpay_amt",
        "overlmt_amt",
        "preselfpay_amt",
        "inscp_scp_amt",
    )
    assert bill.lines == (
        (D("0"), D("0"), D("0"), D("600.00")),
        (D("0"), D("0"), D("77.00"), D("693.00")),
        (D("0"), D("30.00"), D("0"), D("250.00")),
        (D("250.00"), D("0"), D("0"), D("0")),
        (D("0"), D("30.00"), D("27.00"), D("243.00")),
    )
    assert P2020.b_self_pay_ratio == D("0.10")


@PROPERTY
@given(POLICIES, item_lists, CLASSES)
def test_lines_add_up_to_each_item_and_to_the_bill(
    policy: Policy, items: list[FeeItem], aid: AidClass
) -> None:
    bill = compute(
        policy, hospital_level=2, visit_type="inpatient", aid_class=aid, items=items, totals={}
    )
    assert len(bill.lines) == len(items)
    for line, fee in zip(bill.lines, items, strict=True):
        assert all(part >= 0 for part in line)
        assert all(part == part.quantize(Decimal("0.01")) for part in line)
        assert sum(line, Decimal(0)) == item_amount(fee.unit_price, fee.quantity)
        fulamt, overlmt, preself, _inscp = line
        if fee.category == "C":
            assert overlmt == preself == 0
        else:
            assert fulamt == 0
        if fee.category == "A":
            assert preself == 0
        if fee.price_cap is None or fee.price_cap >= fee.unit_price:
            assert overlmt == 0
    totals = [sum((line[k] for line in bill.lines), Decimal(0)) for k in range(4)]
    assert totals == [
        bill.fulamt_ownpay_amt,
        bill.overlmt_selfpay,
        bill.preselfpay_amt,
        bill.inscp_scp_amt,
    ]


@PROPERTY
@given(POLICIES, item_lists, st.integers(0, 5))
def test_a_line_does_not_depend_on_the_other_lines(
    policy: Policy, items: list[FeeItem], rotate: int
) -> None:
    """Each item's split is its own: the same item gives the same line in any bill, in any
    order (so a stored line stays true whatever else the bill held)."""
    whole = compute(
        policy, hospital_level=2, visit_type="inpatient", aid_class="none", items=items, totals={}
    )
    shift = rotate % len(items)
    turned = items[shift:] + items[:shift]
    again = compute(
        policy, hospital_level=2, visit_type="inpatient", aid_class="none", items=turned, totals={}
    )
    assert again.lines == whole.lines[shift:] + whole.lines[:shift]
    for fee, line in zip(items, whole.lines, strict=True):
        alone = compute(
            policy,
            hospital_level=2,
            visit_type="inpatient",
            aid_class="none",
            items=[fee],
            totals={},
        )
        assert alone.lines == (line,)
