"""The engine's parts: the item-amount rule, frozen tier parameters, one rule per kind."""

from __future__ import annotations

import dataclasses

import pytest

from settlement.engine import item_amount
from settlement.engine.params import TIER_PARSERS, BasicTier, CriticalIllnessTier
from settlement.engine.rules import RULES, TARGETS
from settlement.engine.vocabulary import AID_CLASS_LABELS, VISIT_TYPE_LABELS

from .helpers import P2017, P2020, P2023, D, item, settle


@pytest.mark.parametrize(
    ("unit_price", "quantity", "amount"),
    [
        ("3.33", "3", "9.99"),
        ("0.333", "3", "1.00"),  # 0.999 → 1.00
        ("0.125", "1", "0.13"),  # half up, not half even
        ("0.115", "1", "0.12"),
        ("10.00", "0.5", "5.00"),
        ("2.675", "1", "2.68"),
        ("0", "7", "0.00"),
    ],
)
def test_item_amount_is_the_scope_amount(unit_price: str, quantity: str, amount: str) -> None:
    assert item_amount(D(unit_price), D(quantity)) == D(amount)
    # The scope step uses the same rule: a C item's amount is all self-paid.
    bill = settle(P2017, [item("C", unit_price, quantity)])
    assert bill.fulamt_ownpay_amt == bill.medfee_sumamt == D(amount)


def test_every_kind_has_a_parser_and_a_rule() -> None:
    assert set(TIER_PARSERS) == set(RULES)
    assert set(TARGETS) == {
        "critical_illness",
        "bottom_line",
        "graded_assistance",
        "secondary_assistance",
    }
    # Every kind is used by a shipped sample.
    assert {tier.kind for policy in (P2020, P2023) for tier in policy.funds} == set(RULES)


def test_tier_parameters_are_frozen() -> None:
    basic, critical = P2020.funds[0], P2020.funds[1]
    assert isinstance(basic, BasicTier)
    assert isinstance(critical, CriticalIllnessTier)
    with pytest.raises(dataclasses.FrozenInstanceError):
        basic.code = "390101"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        critical.bands["key"][0].ratio = D("1")  # type: ignore[misc]
    assert critical.base_key == "390200.base"
    assert P2020.funds[3].base_key == "640100.cash_base"  # type: ignore[attr-defined]
    # Level 2, key: the inpatient deductible 500 halved.
    case = basic.visits["inpatient"].cases[2, "key"]
    assert (case.full_deductible, case.deductible, case.ratio) == (
        D("500.00"),
        D("250.00"),
        D("0.75"),
    )


def test_cashier_lines_use_the_vocabulary() -> None:
    bill = settle(P2020, [item("A", "20000.00")], level=2, aid="key")
    lines = [d.setl_proc_info for d in bill.setldetail]
    assert lines[0].startswith(f"{VISIT_TYPE_LABELS['inpatient']}·2级医院")
    assert f"（{AID_CLASS_LABELS['key']}，原500.00元）" in lines[0]
    assert all(AID_CLASS_LABELS["key"] in line for line in lines[1:])
