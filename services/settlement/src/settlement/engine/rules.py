"""The rules of each kind of tier, applied to a bill in progress.

Every tier works on the in-scope amount still on the patient after the tiers before it
(``BillState.rem_in``); each payment is rounded to the fen where it is computed and limited by
what the fund may still pay this year (``limits.headroom``). A rule reads its parameters (from
``params``), computes, has the cashier's line written (``cashier``) and ``record``s the payment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from shared.money import ZERO, fen

from . import cashier
from .cashier import money
from .limits import headroom, running_total
from .params import (
    BasicTier,
    BottomLineTier,
    CriticalIllnessTier,
    CumulativeTier,
    MedicalAssistanceTier,
    Tier,
)
from .types import SETLINFO_FUND_FIELDS, AidClass, FundDetail, VisitType


class BillState:
    """A bill in progress while the tiers run."""

    __slots__ = (
        "act_pay_dedc",
        "aid_class",
        "deltas",
        "details",
        "level",
        "pays",
        "rem_in",
        "rem_out",
        "totals",
        "trace",
        "visit_type",
    )

    def __init__(
        self,
        level: int,
        visit_type: VisitType,
        aid_class: AidClass,
        totals: Mapping[str, Decimal],
        rem_in: Decimal,
        rem_out: Decimal,
        trace: list[dict[str, str]],
    ):
        self.level = level
        self.visit_type = visit_type
        self.aid_class = aid_class
        self.totals = totals
        self.rem_in = rem_in  # in-scope amount still on the patient
        self.rem_out = rem_out  # out-of-scope amount still on the patient
        self.pays: dict[str, Decimal] = dict.fromkeys(SETLINFO_FUND_FIELDS, ZERO)
        self.act_pay_dedc = ZERO
        self.details: list[FundDetail] = []
        self.trace = trace
        self.deltas: dict[str, Decimal] = {}

    def add_delta(self, key: str, amount: Decimal) -> None:
        if amount:
            self.deltas[key] = self.deltas.get(key, ZERO) + amount


def record(
    st: BillState,
    tier: Tier,
    base: Decimal,
    key: str,
    left: Decimal | None,
    pay: Decimal,
    info: str,
    trace: dict[str, str],
    pay_out: Decimal = ZERO,
) -> None:
    """Record a tier's payment: its ``setldetail`` row, trace step and the change of its
    running total ``key``. ``left`` is what the fund could still pay before the bill (None = no
    limit); ``pay_out`` of the payment comes off the out-of-scope share, the rest off the
    in-scope share."""
    if pay_out:
        st.rem_in -= pay - pay_out
        st.rem_out -= pay_out
    else:
        st.rem_in -= pay
    st.pays[tier.setlinfo_field] += pay
    if pay:
        st.deltas[key] = pay  # each tier owns its keys, so no key is set twice
    st.details.append(FundDetail(tier.code, tier.name, tier.setlinfo_field, base, left, pay, info))
    if left is not None:
        trace["limit_before"] = money(left)
    trace["fund_payamt"] = money(pay)
    st.trace.append(trace)


def basic(tier: BasicTier, st: BillState) -> None:
    """A deductible per visit, then a ratio of the rest, up to the annual cap."""
    if st.aid_class not in tier.aid_classes:
        return
    case = tier.visits[st.visit_type].cases[st.level, st.aid_class]
    key, _, limit, left = headroom(tier, st.aid_class, st.visit_type, st.totals)
    base = st.rem_in
    deductible = case.deductible
    applied = deductible if deductible < base else base
    above = base - applied
    due = fen(above * case.ratio)
    pay = due if left is None or due <= left else left
    st.act_pay_dedc += applied
    info = cashier.basic_line(case, base, above, due, limit, left, pay)
    trace = {
        "step": "basic",
        "fund_pay_type": tier.code,
        "base": money(base),
        "deductible": money(deductible),
        "act_pay_dedc": money(applied),
        "ratio": str(case.ratio),
        "computed": money(due),
    }
    record(st, tier, base, key, left, pay, info, trace)


def medical_assistance(tier: MedicalAssistanceTier, st: BillState) -> None:
    """A ratio of the in-scope amount still on the patient (and optionally of the out-of-scope
    amount), inside the annual limit."""
    aid_class = st.aid_class
    if aid_class not in tier.aid_classes:
        return
    key, _, limit, left = headroom(tier, aid_class, st.visit_type, st.totals)
    base = st.rem_in
    ratio = tier.ratio[aid_class]
    due_in = fen(base * ratio)
    out_ratio = tier.out_of_scope_ratio[aid_class]
    base_out = st.rem_out
    due_out = fen(base_out * out_ratio) if out_ratio else ZERO
    due = due_in + due_out
    pay = due if left is None or due <= left else left
    pay_in = due_in if due_in <= pay else pay
    info = cashier.medical_assistance_line(
        aid_class, base, ratio, due_in, base_out, out_ratio, due_out, limit, left, pay
    )
    trace = {
        "step": "medical_assistance",
        "fund_pay_type": tier.code,
        "base": money(base),
        "ratio": str(ratio),
        "computed": money(due),
    }
    if out_ratio:
        trace["base_out_of_scope"] = money(base_out)
        trace["out_of_scope_ratio"] = str(out_ratio)
    record(st, tier, base, key, left, pay, info, trace, pay - pay_in)


# Cumulative tiers ---------------------------------------------------------------------------


def critical_illness_target(
    tier: CriticalIllnessTier, aid_class: AidClass, base: Decimal
) -> Decimal:
    """F: what the fund owes for a year's cumulative base — banded ratios above the threshold,
    rounded to the fen and capped at the annual cap."""
    over = base - tier.threshold[aid_class]
    if over <= 0:
        return ZERO
    raw = ZERO
    for band in tier.bands[aid_class]:
        if band.upper is None or over <= band.upper:
            raw = band.start + (over - band.lower) * band.ratio
            break
        raw = band.start + (band.upper - band.lower) * band.ratio
    due = fen(raw)
    cap = tier.annual_limit[aid_class]
    return due if cap is None or due <= cap else cap


def bottom_line_target(tier: BottomLineTier, aid_class: AidClass, base: Decimal) -> Decimal:
    """What the bottom-line fund owes for a year's in-scope amount left on the patient: the
    part above the threshold, up to the annual limit."""
    over = base - tier.threshold[aid_class]
    if over <= 0:
        return ZERO
    limit = tier.annual_limit[aid_class]
    return over if limit is None or over <= limit else limit


Target = Callable[[Any, AidClass, Decimal], Decimal]
"""What a cumulative tier owes a person of a class for a year's base, within its annual
limit."""

TARGETS: dict[str, Target] = {
    "critical_illness": critical_illness_target,
    "bottom_line": bottom_line_target,
}
"""The target of each cumulative kind."""


def target(tier: CumulativeTier, aid_class: AidClass, base: Decimal) -> Decimal:
    """What a cumulative tier owes a person of ``aid_class`` for a year's ``base``."""
    return TARGETS[tier.kind](tier, aid_class, base)


class CumulativeStep(NamedTuple):
    """A cumulative tier on one bill, as the cashier's line tells it."""

    base: Decimal  # this bill's part of the year's base
    before: Decimal  # the year's base before the bill ...
    after: Decimal  # ... and after it
    target: Decimal  # what the tier owes for the year's base after the bill
    paid: Decimal  # what the tier had paid this year before the bill
    corrected: bool  # paid ≠ target(before): an earlier bill was revoked (or the class changed)
    due: Decimal  # max(0, target − paid)
    limit: Decimal | None  # annual limit (None = none)
    left: Decimal | None  # what the limit left before the bill
    pay: Decimal


def cumulative(
    tier: CumulativeTier,
    st: BillState,
    owed: Target,
    line: Callable[[Any, AidClass, CumulativeStep], str],
    trace_names: tuple[str, str, str],
) -> None:
    """The one rule of every cumulative tier: pay ``target − paid``.

    The in-scope amount still on the patient is added to the year's base (for every class, so
    the base is right if the person's class changes). If the tier takes part for the person's
    class, it pays what it owes for the year's base after this bill less what it has already
    paid this year — ``max(0, owed(base after) − paid)`` — and never more than its annual limit
    leaves or than this bill's base.

    Without revokes this is ``owed(after) − owed(before)``, so splitting a year into bills
    never changes what the tier pays. A revoke takes the revoked bill's base and payment out
    of the running totals, possibly leaving the tier above or below ``owed(base)``; the next
    bill of the person-year brings it back. A revoke is accepted even when later bills exist:
    an overpayment it leaves (``paid > owed(base)``, see ``compute.to_be_absorbed``) is
    absorbed by the next bills, which pay nothing from the tier until the year's target passes
    what was paid; an underpayment is made up by the next bill, up to that bill's base.

    ``owed`` is the tier's target, ``line`` its cashier's line, ``trace_names`` the trace step
    and its names for the base before and after the bill."""
    base = st.rem_in
    before = running_total(st.totals, tier.base_key)
    after = before + base
    if base:
        st.deltas[tier.base_key] = base
    aid_class = st.aid_class
    if aid_class not in tier.aid_classes:
        return
    key, paid, limit, left = headroom(tier, aid_class, st.visit_type, st.totals)
    owed_after = owed(tier, aid_class, after)
    due = owed_after - paid if owed_after > paid else ZERO
    pay = due
    if left is not None and pay > left:
        pay = left
    if pay > base:  # after a revoke, the tier may owe more than this bill brings in
        pay = base
    corrected = paid != owed(tier, aid_class, before)
    step = CumulativeStep(base, before, after, owed_after, paid, corrected, due, limit, left, pay)
    name, before_name, after_name = trace_names
    trace = {
        "step": name,
        "fund_pay_type": tier.code,
        "base": money(base),
        before_name: money(before),
        after_name: money(after),
        "threshold": money(tier.threshold[aid_class]),
        "target": money(owed_after),
        "paid_before": money(paid),
        "computed": money(due),
    }
    record(st, tier, base, key, left, pay, line(tier, aid_class, step), trace)


def critical_illness(tier: CriticalIllnessTier, st: BillState) -> None:
    """Banded ratios on the year's cumulative base above a threshold, with an annual cap."""
    cumulative(
        tier,
        st,
        critical_illness_target,
        cashier.critical_illness_line,
        ("critical_illness", "base_before", "base_after"),
    )


def bottom_line(tier: BottomLineTier, st: BillState) -> None:
    """Once the year's in-scope amount left on the patient exceeds a threshold, the excess."""
    cumulative(
        tier,
        st,
        bottom_line_target,
        cashier.bottom_line_line,
        ("bottom_line", "cash_before", "cash_after"),
    )


RULES: dict[str, Callable[[Any, BillState], None]] = {
    "basic": basic,
    "critical_illness": critical_illness,
    "medical_assistance": medical_assistance,
    "bottom_line": bottom_line,
}
"""The rule of each kind of tier (the keys of ``params.TIER_PARSERS``)."""
