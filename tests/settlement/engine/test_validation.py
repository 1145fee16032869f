"""Bill input the engine refuses, each error naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from settlement.engine import Bill, BillInputError, EngineError, FeeItem, apply_deltas, compute

from .helpers import P2017, D, item


def call(**overrides: Any) -> Bill:
    args: dict[str, Any] = {
        "hospital_level": 1,
        "visit_type": "inpatient",
        "aid_class": "none",
        "items": [item("A", "100.00")],
        "totals": {},
    }
    args.update(overrides)
    return compute(P2017, **args)


def fee(**fields: Any) -> FeeItem:
    values: dict[str, Any] = {
        "code": "X",
        "name": "x",
        "category": "A",
        "unit_price": D("10.00"),
        "quantity": D("1"),
    }
    values.update(fields)
    return FeeItem(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hospital_level": 4}, "hospital_level"),
        ({"visit_type": "daycare"}, "visit_type"),
        ({"aid_class": "vip"}, "aid_class"),
        ({"items": []}, "items"),
        ({"grant_balance": D("-1")}, "grant_balance"),
        ({"totals": {"390100.inpatient": D("-5")}}, "totals[390100.inpatient]"),
        ({"items": [item("A", "1"), fee(amount=D("10.01"))]}, "items[1].amount"),
        ({"items": [fee(amount=D("-10.00"))]}, "items[0].amount"),
        ({"items": [fee(unit_price=D("-1"))]}, "items[0].unit_price"),
        ({"items": [fee(quantity=D("-1"))]}, "items[0].quantity"),
        ({"items": [fee(price_cap=D("-1"))]}, "items[0].price_cap"),
        ({"items": [fee(category="B", self_pay_ratio=D("1.5"))]}, "items[0].self_pay_ratio"),
        ({"items": [fee(category="D")]}, "items[0].category"),
        ({"items": [fee(category="C", price_cap=D("-1"))]}, "items[0].price_cap"),
        ({"items": [fee(unit_price=D("NaN"))]}, "items[0].unit_price"),
        ({"items": [fee(quantity=D("Infinity"))]}, "items[0].quantity"),
        ({"items": [fee(unit_price="12")]}, "items[0].unit_price"),
    ],
)
def test_refused_input_names_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(BillInputError) as error:
        call(**overrides)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


def test_matching_amount_is_accepted() -> None:
    # 3.33 × 3 = 9.99; a given amount must equal it exactly (to the fen).
    bill = call(items=[fee(unit_price=D("3.33"), quantity=D("3"), amount=D("9.99"))])
    assert (bill.medfee_sumamt, bill.inscp_scp_amt) == (D("9.99"), D("9.99"))
    # 0.333 × 3 = 0.999 → 1.00 (half up); the given 1.00 is that amount.
    bill = call(items=[fee(unit_price=D("0.333"), quantity=D("3"), amount=D("1.00"))])
    assert bill.medfee_sumamt == D("1.00")
    # The same item without an amount gives the same bill.
    assert call(items=[fee(unit_price=D("0.333"), quantity=D("3"))]) == bill
    # One fen off either way is refused, with the amount it should be.
    for given in ("0.99", "1.01", "0.999"):
        with pytest.raises(BillInputError) as error:
            call(items=[fee(unit_price=D("0.333"), quantity=D("3"), amount=D(given))])
        assert error.value.field == "items[0].amount"
        assert "= 1.00" in error.value.message


def test_apply_deltas_round_trip_and_refuses_negative() -> None:
    totals = {"390100.inpatient": D("100.00"), "x": D("1.00")}
    deltas = {"390100.inpatient": D("50.00"), "390200.base": D("20.00")}
    moved = apply_deltas(totals, deltas)
    assert moved == {"390100.inpatient": D("150.00"), "x": D("1.00"), "390200.base": D("20.00")}
    assert apply_deltas(moved, deltas, -1) == totals
    with pytest.raises(EngineError, match="negative"):
        apply_deltas(totals, deltas, -1)
    with pytest.raises(EngineError):
        apply_deltas(totals, deltas, 2)
