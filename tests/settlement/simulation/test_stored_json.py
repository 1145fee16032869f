"""The replay reads a stored bill's JSON (fee items, deltas) with ``pydantic_core.from_json``:
the same fee items and grant as the standard library's reader with every number taken as
``Decimal(str(value))``, the reading the replay had before, whatever the JSON holds: amounts
as exact strings (as bills are stored), integers, or numbers with a fraction."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.engine import TEMPORARY_ASSISTANCE_KEY, FeeItem
from settlement.simulation.replay import _grant, _items


def reference_items(raw: str) -> list[FeeItem]:
    def dec(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        FeeItem(
            item["code"],
            item["name"],
            item["category"],
            Decimal(str(item["unit_price"])),
            Decimal(str(item["quantity"])),
            dec(item.get("amount")),
            dec(item.get("self_pay_ratio")),
            dec(item.get("price_cap")),
        )
        for item in json.loads(raw)
    ]


def reference_grant(raw: str) -> Decimal:
    return Decimal(str(json.loads(raw).get(TEMPORARY_ASSISTANCE_KEY, "0")))


cents = st.integers(min_value=0, max_value=10**11)
numbers = st.one_of(
    cents.map(lambda c: str(Decimal(c).scaleb(-2))),  # "12.30", as stored
    st.integers(min_value=0, max_value=10**9),  # 3
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),  # 12.3
    st.decimals(min_value=0, max_value=10**6, places=4).map(str),  # "0.1500"
)
item = st.fixed_dictionaries(
    {
        "code": st.text(min_size=1, max_size=12),
        "name": st.text(max_size=20),
        "category": st.sampled_from(["A", "B", "C"]),
        "unit_price": numbers,
        "quantity": numbers,
    },
    optional={
        "amount": st.none() | numbers,
        "self_pay_ratio": st.none() | numbers,
        "price_cap": st.none() | numbers,
        "source": st.just("declared"),
    },
)


@settings(max_examples=300)
@given(st.lists(item, max_size=12), st.booleans())
def test_stored_items_read_as_the_standard_reader_reads_them(
    items: list[dict[str, Any]], ascii_only: bool
) -> None:
    raw = json.dumps(items, ensure_ascii=ascii_only)
    # repr: every Decimal with its exponent too ("12.30" stays 12.30, not 12.3)
    assert repr(_items(raw)) == repr(reference_items(raw))


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["390100.inpatient", TEMPORARY_ASSISTANCE_KEY]), numbers))
def test_the_grant_reads_as_the_standard_reader_reads_it(deltas: dict[str, Any]) -> None:
    raw = json.dumps(deltas)
    grant = _grant(raw)
    assert repr(grant) == repr(reference_grant(raw)) or grant == reference_grant(raw) == 0
    assert (grant != 0) <= (TEMPORARY_ASSISTANCE_KEY in deltas)
