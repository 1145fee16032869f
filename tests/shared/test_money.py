from decimal import Decimal
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.money import Money, SignedMoney, fen, money_str, parse_money, signed_money_str


class Body(BaseModel):
    amount: Money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.30", Decimal("12.30")),
        ("12.3", Decimal("12.30")),
        (12, Decimal("12.00")),
        (12.3, Decimal("12.30")),
        (0.1, Decimal("0.10")),
        ("0", Decimal("0.00")),
        ("1.500", Decimal("1.50")),  # trailing zeros are not a third decimal
    ],
)
def test_parse_money_accepts_numbers_and_strings(raw: object, expected: Decimal) -> None:
    assert Body(amount=raw).amount == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1.234", "at most two decimals"),
        (1.234, "at most two decimals"),
        ("-1", "negative"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("abc", "money amount"),
        (True, "money amount"),
        ("", "money amount"),
        ("1e15", "too large"),
        ("1e30", "too large"),
        (1e24, "too large"),
        ("1e-30", "at most two decimals"),
    ],
)
def test_parse_money_refuses(raw: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Body(amount=raw)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_money_serialises_as_two_decimal_string() -> None:
    assert Body(amount=Decimal("5")).model_dump(mode="json") == {"amount": "5.00"}
    assert Body(amount=Decimal("5")).model_dump() == {"amount": Decimal("5.00")}


def test_fen_rounds_half_up() -> None:
    assert fen(Decimal("0.005")) == Decimal("0.01")
    assert fen(Decimal("0.0049")) == Decimal("0.00")
    assert fen(Decimal("2.675")) == Decimal("2.68")
    assert money_str(Decimal("-0.005")) == "-0.01"


@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_parse_round_trips_every_two_decimal_amount(value: Decimal) -> None:
    assert parse_money(money_str(value)) == value
    assert parse_money(str(value)) == value


def test_negative_allowed_when_asked() -> None:
    assert parse_money("-3.10", allow_negative=True) == Decimal("-3.10")


def _outcome(parse, value):
    try:
        return ("ok", parse(value))
    except ValueError as exc:
        return ("error", str(exc))


@given(
    st.one_of(
        st.integers(-(10**14), 10**14),
        st.floats(allow_nan=True, allow_infinity=True),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.from_regex(r"\A[ +-]?[0-9]{0,18}(\.[0-9]{0,5})?[ ]?\Z"),
        st.text(max_size=40),
    ),
    st.sampled_from(
        [(2, Decimal("1e12"), False), (4, Decimal("100000"), True), (4, Decimal(1), False)]
    ),
)
def test_short_path_parser_agrees_with_the_full_parser(value, settings) -> None:
    from shared.money import decimal_parser, parse_decimal

    places, maximum, positive = settings
    fast = decimal_parser(places=places, maximum=maximum, positive=positive)
    full = partial(parse_decimal, places=places, maximum=maximum, positive=positive)
    assert _outcome(fast, value) == _outcome(full, value)


class Net(BaseModel):
    amount: SignedMoney


@pytest.mark.parametrize(
    ("raw", "expected", "text"),
    [
        ("-5000.00", Decimal("-5000.00"), "-5000.00"),
        (-690, Decimal("-690.00"), "-690.00"),
        ("4310.5", Decimal("4310.50"), "4310.50"),
        ("-0.00", Decimal("0.00"), "0.00"),  # never "-0.00"
        ("0", Decimal("0.00"), "0.00"),
    ],
)
def test_signed_money_takes_both_signs(raw: object, expected: Decimal, text: str) -> None:
    body = Net(amount=raw)  # type: ignore[arg-type]
    assert body.amount == expected
    assert body.model_dump(mode="json") == {"amount": text}


@pytest.mark.parametrize("raw", ["-1.234", "NaN", "abc", True, "-1e13"])
def test_signed_money_refuses_what_money_refuses(raw: object) -> None:
    with pytest.raises(ValidationError):
        Net(amount=raw)  # type: ignore[arg-type]
    assert signed_money_str(Decimal(0) - Decimal("0.00")) == "0.00"
