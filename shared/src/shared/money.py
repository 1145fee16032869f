"""Money: ``decimal.Decimal`` in yuan, rounded to the fen (0.01) half up at defined points.

Never a float. Input parsing accepts JSON numbers or strings with at most two decimals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(value: Decimal) -> Decimal:
    """Round to the fen, half up (四舍五入到分)."""
    # Positional arguments: ``quantize`` parses keywords several times slower, and the engine
    # rounds dozens of amounts per bill.
    return value.quantize(FEN, ROUND_HALF_UP)


MAX_AMOUNT = Decimal("1e12")
"""No amount of a medical bill comes near a trillion yuan; anything larger is bad input."""


def parse_decimal(
    value: Any,
    *,
    places: int,
    maximum: Decimal,
    positive: bool = False,
    allow_negative: bool = False,
    what: str = "number",
) -> Decimal:
    """An exact Decimal from a JSON number, a string or a Decimal, with at most ``places``
    decimals and an absolute value up to ``maximum``. Raises ``ValueError`` saying why.

    Floats go through their shortest repr, so 12.3 stays 12.3 rather than its binary
    expansion. NaN, Infinity, booleans and exponents too large to be amounts are refused.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"must be a {what}")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 32:
            raise ValueError(f"must be a {what}")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"must be a {what}") from None
    if not isinstance(value, Decimal):
        raise ValueError(f"must be a {what}")
    if not value.is_finite():
        raise ValueError(f"must be a finite {what}")
    # Size first: quantizing a huge exponent would overflow the context's precision.
    if abs(value) > maximum:
        raise ValueError("is too large" if maximum == MAX_AMOUNT else f"must not exceed {maximum}")
    step = Decimal(1).scaleb(-places)
    if value != value.quantize(step, rounding=ROUND_DOWN):
        shown = "two" if places == 2 else str(places)
        raise ValueError(f"must have at most {shown} decimals")
    if value < 0 and not allow_negative:
        raise ValueError("must not be negative")
    if positive and value <= 0:
        raise ValueError("must be greater than zero")
    return value.quantize(step)


def parse_money(value: Any, *, allow_negative: bool = False) -> Decimal:
    """A money amount: at most two decimals, below a trillion yuan, not negative unless
    ``allow_negative``. Raises ``ValueError``."""
    return parse_decimal(
        value, places=2, maximum=MAX_AMOUNT, allow_negative=allow_negative, what="money amount"
    )


def decimal_parser(
    *,
    places: int,
    maximum: Decimal,
    positive: bool = False,
    what: str = "number",
    fallback: Callable[[Any], Decimal] | None = None,
) -> Callable[[Any], Decimal]:
    """``parse_decimal`` with these settings as a one-argument function (a validator).

    Plain non-negative numbers (an int, a float, or a string of digits with at most
    ``places`` decimals, in range) take a short path with the same result; anything else goes
    to ``fallback`` (default: ``parse_decimal`` itself), which accepts, refuses and words its
    errors exactly as before.
    """
    step = Decimal(1).scaleb(-places)
    # ASCII digits only (``\d`` would take other scripts' digits); short enough to stay under
    # the parser's 32-character limit.
    plain = re.compile(rf"[0-9]{{1,16}}(?:\.[0-9]{{1,{places}}})?").fullmatch
    # Values above ``floor``: greater than zero, or (digits only, no sign) not negative.
    floor = Decimal(0) if positive else Decimal(-1)

    def slow(value: Any) -> Decimal:
        return parse_decimal(value, places=places, maximum=maximum, positive=positive, what=what)

    full = fallback or slow

    def parse(value: Any) -> Decimal:
        kind = type(value)
        if kind is float:
            text: Any = repr(value)
        elif kind is str:
            text = value
        elif kind is int:
            if floor < value <= maximum:
                return Decimal(value).quantize(step)
            return full(value)
        else:
            return full(value)
        if plain(text) is not None:
            number = Decimal(text)
            if floor < number <= maximum:
                return number.quantize(step)
        return full(value)

    return parse


def money_str(value: Decimal) -> str:
    """Render an amount as a fixed two-decimal string ("12.30")."""
    return f"{fen(value):.2f}"


parse_money_value = decimal_parser(places=2, maximum=MAX_AMOUNT, what="money amount")
"""``parse_money`` for one value (non-negative), with the short path for plain amounts."""

Money = Annotated[
    Decimal,
    BeforeValidator(parse_money_value),
    PlainSerializer(money_str, return_type=str, when_used="json"),
]
"""A non-negative amount in yuan with at most two decimals; serialised as a string in JSON."""


def signed_money_str(value: Decimal) -> str:
    """A signed amount as a fixed two-decimal string; zero is ``"0.00"``, never ``"-0.00"``."""
    rounded = fen(value)
    return f"{rounded:.2f}" if rounded else "0.00"


def _parse_signed_money(value: Any) -> Decimal:
    return parse_money(value, allow_negative=True)


parse_signed_money_value = decimal_parser(
    places=2, maximum=MAX_AMOUNT, what="money amount", fallback=_parse_signed_money
)
"""``parse_money(..., allow_negative=True)`` for one value, with the short path."""

SignedMoney = Annotated[
    Decimal,
    BeforeValidator(parse_signed_money_value),
    PlainSerializer(signed_money_str, return_type=str, when_used="json"),
]
"""An amount in yuan that may be negative (net figures of a period that holds reversals; a
reversal's amounts), at most two decimals; serialised as a string in JSON."""
