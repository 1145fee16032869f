"""The receipt's amount in capital numerals (大写金额), as a cashier writes it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from settlement.receipts.service import rmb_upper


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "零元整"),
        ("0.05", "伍分"),
        ("0.50", "伍角整"),
        ("1", "壹元整"),
        ("10.05", "壹拾元零伍分"),
        ("100.50", "壹佰元伍角整"),
        ("1001", "壹仟零壹元整"),
        ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
        ("100000", "壹拾万元整"),
        ("100010", "壹拾万零壹拾元整"),
        ("500000", "伍拾万元整"),
        ("10000001.01", "壹仟万零壹元零壹分"),
        ("123456789.00", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元整"),
    ],
)
def test_amount_in_capital_numerals(amount: str, words: str) -> None:
    assert rmb_upper(Decimal(amount)) == words
