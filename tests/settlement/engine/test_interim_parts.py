"""Interim settlement (中途结算): a stay settled in parts pays, over the parts, exactly what one
bill of every line pays — one deductible per admission — whatever the split (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from settlement.engine import SETLINFO_FIELDS, Bill, apply_deltas, compute
from settlement.engine.parts import EarlierPart, earlier_deltas, remaining_part

from .helpers import P2017, P2020, check_invariants
from .test_properties import CLASSES, LEVELS, PROPERTY, fee_items

ZERO = Decimal(0)


def as_earlier(bill: Bill) -> EarlierPart:
    return EarlierPart(
        setlinfo={name: getattr(bill, name) for name in SETLINFO_FIELDS},
        funds={d.fund_pay_type: (d.fund_payamt, d.inscp_scp_amt) for d in bill.setldetail},
        deltas=bill.deltas,
    )


@PROPERTY
@given(
    policy=st.sampled_from([P2017, P2020]),
    level=LEVELS,
    aid_class=CLASSES,
    items=st.lists(fee_items(), min_size=1, max_size=12),
    cuts=st.lists(st.integers(1, 11), max_size=3),
    before=st.sampled_from([{}, {"390100.inpatient": Decimal("150000.00")}]),
)
def test_parts_add_up_to_the_whole_stay(policy, level, aid_class, items, cuts, before) -> None:
    bounds = sorted({c for c in cuts if c < len(items)})
    slices = [items[a:b] for a, b in zip([0, *bounds], [*bounds, len(items)], strict=True)]
    totals = dict(before)
    parts: list[Bill] = []
    for index in range(len(slices)):
        lines = [line for chunk in slices[: index + 1] for line in chunk]
        earlier = [as_earlier(p) for p in parts]
        whole = compute(
            policy,
            hospital_level=level,
            visit_type="inpatient",
            aid_class=aid_class,
            items=lines,
            totals=apply_deltas(totals, earlier_deltas(earlier), -1),
        )
        part = remaining_part(whole, earlier)
        check_invariants(part)
        parts.append(part)
        totals = apply_deltas(totals, part.deltas)
    one_bill = compute(
        policy,
        hospital_level=level,
        visit_type="inpatient",
        aid_class=aid_class,
        items=items,
        totals=dict(before),
    )
    for name in SETLINFO_FIELDS:
        assert sum((getattr(p, name) for p in parts), ZERO) == getattr(one_bill, name), name
    assert totals == apply_deltas(dict(before), one_bill.deltas)
