"""Shared helpers for the engine tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from settlement.engine import (
    AidClass,
    Bill,
    Category,
    FeeItem,
    Policy,
    PolicySet,
    VisitType,
    apply_deltas,
    compute,
    default_policy_dir,
    ladder_policy_dir,
    load_policy_file,
)

D = Decimal
POLICIES = PolicySet.from_dir(default_policy_dir())
P2017 = POLICIES.by_version("2017")
P2020 = POLICIES.by_version("2020")
P2023 = load_policy_file(ladder_policy_dir() / "2023.toml")
"""The sample of the plan's whole ladder, shipped apart from the default samples."""


def item(
    category: Category,
    unit_price: str,
    quantity: str = "1",
    *,
    cap: str | None = None,
    ratio: str | None = None,
    amount: str | None = None,
    code: str = "X001",
) -> FeeItem:
    return FeeItem(
        code=code,
        name=f"item {code}",
        category=category,
        unit_price=D(unit_price),
        quantity=D(quantity),
        amount=None if amount is None else D(amount),
        self_pay_ratio=None if ratio is None else D(ratio),
        price_cap=None if cap is None else D(cap),
    )


def settle(
    policy: Policy,
    items: Sequence[FeeItem],
    *,
    level: int = 1,
    visit: VisitType = "inpatient",
    aid: AidClass = "none",
    totals: Mapping[str, Decimal] | None = None,
    grant: str = "0",
    diagnoses: Sequence[str] = (),
    age: int | None = None,
) -> Bill:
    return compute(
        policy,
        hospital_level=level,
        visit_type=visit,
        aid_class=aid,
        items=items,
        totals={} if totals is None else totals,
        grant_balance=D(grant),
        diagnoses=diagnoses,
        age=age,
    )


def row(bill: Bill, code: str) -> tuple[Decimal, Decimal | None]:
    """(fund_payamt, crt_payb_lmt_amt) of the setldetail row with this fund code."""
    (detail,) = [d for d in bill.setldetail if d.fund_pay_type == code]
    return detail.fund_payamt, detail.crt_payb_lmt_amt


def codes(bill: Bill) -> list[str]:
    return [d.fund_pay_type for d in bill.setldetail]


def check_invariants(bill: Bill) -> None:
    """DESIGN.md's bill invariants, to the fen."""
    fen = D("0.01")
    amounts = bill.as_setlinfo()
    for name, value in amounts.items():
        assert value >= 0, name
        assert value == value.quantize(fen), name
    assert bill.medfee_sumamt == bill.fund_pay_sumamt + bill.psn_cash_pay
    assert bill.fund_pay_sumamt == sum((d.fund_payamt for d in bill.setldetail), D(0))
    assert bill.fund_pay_sumamt == bill.hifp_pay + bill.hifmi_pay + bill.maf_pay + bill.oth_pay
    assert bill.medfee_sumamt == (
        bill.fulamt_ownpay_amt + bill.overlmt_selfpay + bill.preselfpay_amt + bill.inscp_scp_amt
    )
    for field in ("hifp_pay", "hifmi_pay", "maf_pay", "oth_pay"):
        assert amounts[field] == sum(
            (d.fund_payamt for d in bill.setldetail if d.setlinfo_field == field), D(0)
        )
    for d in bill.setldetail:
        assert d.fund_payamt >= 0
        assert d.inscp_scp_amt >= 0
        if d.crt_payb_lmt_amt is not None:
            assert 0 <= d.fund_payamt <= d.crt_payb_lmt_amt
    assert all(v != 0 for v in bill.deltas.values())
    assert all(v > 0 for v in bill.deltas.values())


__all__ = [
    "D",
    "P2017",
    "P2020",
    "P2023",
    "POLICIES",
    "apply_deltas",
    "check_invariants",
    "codes",
    "item",
    "row",
    "settle",
]
