"""Money: ``decimal.Decimal`` in yuan, rounded to the fen (0.01) half up at defined points.

Never a float. Input parsing accepts JSON numbers or strings with at most two decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(value: Decimal) -> Decimal:
    """Round to the fen, half up (四舍五入到分)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_money(value: Any, *, allow_negative: bool = False) -> Decimal:
    """Parse a money amount from a JSON number, a string or a Decimal.

    Refuses floats that are not exactly representable in two decimals, more than two decimals,
    NaN/Infinity and (unless ``allow_negative``) negative amounts. Raises ``ValueError``.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a money amount")
    if isinstance(value, float):
        # A JSON number arrives as float when the framework parses it; go through its shortest
        # repr so 12.3 stays 12.3 rather than 12.300000000000000710542735760100185871124267578125.
        value = repr(value)
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 32:
            raise ValueError("must be a money amount")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError("must be a money amount") from None
    if not isinstance(value, Decimal):
        raise ValueError("must be a money amount")
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(FEN):
        raise ValueError("must have at most two decimals")
    if value < 0 and not allow_negative:
        raise ValueError("must not be negative")
    if abs(value) >= Decimal("1e12"):
        raise ValueError("is too large")
    return value.quantize(FEN)


def money_str(value: Decimal) -> str:
    """Render an amount as a fixed two-decimal string ("12.30")."""
    return f"{fen(value):.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    PlainSerializer(money_str, return_type=str, when_used="json"),
]
"""A non-negative amount in yuan with at most two decimals; serialised as a string in JSON."""
