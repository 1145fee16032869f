"""JSON text of the national envelopes: amounts are JSON numbers with two decimals
(``1381.41``, ``0.00``), read and written as ``Decimal`` — never a float.

The standard library's encoder cannot write a ``Decimal`` as a number, so answers are written
here: ``dumps`` takes plain values (dict, list, str, int, bool, None, Decimal) and writes
every ``Decimal`` with two decimals; ``loads`` reads every JSON number with a fraction or an
exponent as a ``Decimal``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

_string = json.encoder.encode_basestring


MAX_DEPTH = 32
"""Nesting a national message never needs more than a few levels of; deeper is refused (the
writer below recurses)."""


def loads(text: bytes | str) -> Any:
    """Parse a JSON document; numbers with a fraction or exponent become ``Decimal``.
    Raises ``ValueError`` — also for a string holding a lone surrogate (``"\\ud800"``), which
    no answer or fingerprint could carry as UTF-8, and for nesting deeper than
    :data:`MAX_DEPTH` — or ``RecursionError`` for absurd nesting."""
    value = json.loads(text, parse_float=Decimal)
    _check(value)
    return value


def _check(value: Any) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("a string holds an unpaired surrogate") from None
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept; a ``Decimal`` as a number with two decimals (more
    when it has more: a quantity of ``1.2345`` stays exact)."""
    parts: list[str] = []
    _write(value, parts, canonical=False)
    return "".join(parts)


def canonical(value: Any) -> str:
    """Keys sorted, every number exactly as parsed (``str`` of a ``Decimal``, never
    expanded): the text a request's fingerprint is taken of."""
    parts: list[str] = []
    _write(value, parts, canonical=True)
    return "".join(parts)


def _write(value: Any, out: list[str], canonical: bool) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Decimal):
        out.append(str(value) if canonical else _number(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        items = sorted(value.items()) if canonical else value.items()
        for index, (key, item) in enumerate(items):
            if index:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _write(item, out, canonical)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, canonical)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as national JSON")


_MAX_DIGITS = 30


def _number(value: Decimal) -> str:
    """Two decimals at least; an answer's numbers are amounts, ratios and quantities that were
    validated (bounded), so the text stays short."""
    if not value.is_finite() or value.adjusted() > _MAX_DIGITS:
        raise ValueError(f"not an amount: {value}")
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    text = f"{value:.{places}f}"
    return text[1:] if text.startswith("-") and not value else text
