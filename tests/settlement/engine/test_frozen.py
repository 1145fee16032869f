"""``frozen.maker``: the engine's fast constructors make the same frozen objects."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from settlement.engine import Bill, FundDetail
from settlement.engine.compute import new_bill
from settlement.engine.frozen import maker
from settlement.engine.rules import fund_detail

from .helpers import P2023, D, item, settle


def test_fund_rows_and_bills_equal_what_their_init_makes() -> None:
    bill = settle(P2023, [item("A", "20000.00")], level=2, aid="key", diagnoses=["H25.9"])
    for row in bill.setldetail:
        rebuilt = FundDetail(**{f.name: getattr(row, f.name) for f in dataclasses.fields(row)})
        assert row == rebuilt
        assert hash(row) == hash(rebuilt)
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.fund_payamt = D("1")  # type: ignore[misc]
    values = {f.name: getattr(bill, f.name) for f in dataclasses.fields(bill)}
    assert Bill(**values) == bill
    assert dataclasses.replace(bill, psn_cash_pay=D("0")).psn_cash_pay == D("0")
    assert new_bill(**values) == bill
    assert fund_detail(**dataclasses.asdict(bill.setldetail[0])) == bill.setldetail[0]


def test_defaults_are_filled_and_other_classes_fall_back() -> None:
    @dataclass(frozen=True)
    class Plain:
        a: int
        b: str = "b"

    make = maker(Plain)
    assert make is not Plain
    assert make(a=1) == Plain(1)
    assert make(a=1, b="c") == Plain(1, "c")

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    @dataclass(frozen=True)
    class Factory:
        a: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    for cls in (Slotted, Factory, Checked):
        assert maker(cls) is cls
