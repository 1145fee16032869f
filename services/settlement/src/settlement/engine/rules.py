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
from .frozen import maker
from .limits import account, headroom, running_total, yearly_deductible
from .params import (
    BandedTier,
    BasicTier,
    BottomLineTier,
    ChronicGroup,
    CriticalIllnessTier,
    CumulativeTier,
    DiseaseProgrammeTier,
    GradedAssistanceTier,
    MedicalAssistanceTier,
    OutpatientChronicTier,
    SecondaryAssistanceTier,
    SupplementaryTier,
    Tier,
)
from .programmes import Programme
from .types import SETLINFO_FUND_FIELDS, AidClass, FundDetail, VisitType


class BillState:
    """A bill in progress while the tiers run."""

    __slots__ = (
        "act_pay_dedc",
        "aid_class",
        "deltas",
        "details",
        "group",
        "inscp",
        "level",
        "pays",
        "programme",
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
        self.inscp = rem_in  # the bill's in-scope amount
        self.rem_in = rem_in  # in-scope amount still on the patient
        self.rem_out = rem_out  # out-of-scope amount still on the patient
        self.programme: Programme | None = None  # the disease programme of the visit
        self.group: ChronicGroup | None = None  # the outpatient chronic-disease group
        self.pays: dict[str, Decimal] = dict.fromkeys(SETLINFO_FUND_FIELDS, ZERO)
        self.act_pay_dedc = ZERO
        self.details: list[FundDetail] = []
        self.trace = trace
        self.deltas: dict[str, Decimal] = {}

    def add_delta(self, key: str, amount: Decimal) -> None:
        if amount:
            self.deltas[key] = self.deltas.get(key, ZERO) + amount


fund_detail = maker(FundDetail)
"""``FundDetail(...)`` by keyword, made without the frozen ``__init__`` (``frozen.maker``)."""


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
    limit; the rule has put it in ``trace`` as ``limit_before`` for the cashier's line, which
    reads the amounts it prints from the trace step, so each is written out once);
    ``pay_out`` of the payment comes off the out-of-scope share, the rest off the in-scope
    share."""
    if pay_out:
        st.rem_in -= pay - pay_out
        st.rem_out -= pay_out
    else:
        st.rem_in -= pay
    st.pays[tier.setlinfo_field] += pay
    if pay:
        st.deltas[key] = pay  # each tier owns its keys, so no key is set twice
    st.details.append(
        fund_detail(
            fund_pay_type=tier.code,
            fund_pay_type_name=tier.name,
            setlinfo_field=tier.setlinfo_field,
            inscp_scp_amt=base,
            crt_payb_lmt_amt=left,
            fund_payamt=pay,
            setl_proc_info=info,
        )
    )
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
    trace = {
        "step": "basic",
        "fund_pay_type": tier.code,
        "base": money(base),
        "deductible": money(deductible),
        "act_pay_dedc": money(applied),
        "ratio": str(case.ratio),
        "computed": money(due),
    }
    if left is not None:
        trace["limit_before"] = money(left)
    info = cashier.basic_line(case, above, due, limit, pay, trace)
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
    if left is not None:
        trace["limit_before"] = money(left)
    info = cashier.medical_assistance_line(
        aid_class, ratio, due_in, out_ratio, due_out, limit, pay, trace
    )
    record(st, tier, base, key, left, pay, info, trace, pay - pay_in)


# Cumulative tiers ---------------------------------------------------------------------------


def banded_target(tier: BandedTier, aid_class: AidClass, base: Decimal) -> Decimal:
    """F: what a banded tier (critical illness, graded assistance) owes for a year's
    cumulative base — banded ratios above the threshold, rounded to the fen and capped at the
    annual cap (limit)."""
    over = base - tier.threshold[aid_class]
    if over <= ZERO:
        return ZERO
    for band in tier.bands[aid_class]:
        upper = band.upper
        if upper is None or over <= upper:
            raw = band.offset + over * band.ratio  # = start + (over − lower) × ratio
            break
    else:  # above the last band, which is closed
        assert band.full is not None
        raw = band.full
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

critical_illness_target = banded_target
"""F of critical illness (``banded_target``)."""


def secondary_assistance_target(
    tier: SecondaryAssistanceTier, aid_class: AidClass, base: Decimal
) -> Decimal:
    """What secondary assistance owes for a year's in-scope amount left on the patient: its
    ratio of the part above the threshold, rounded to the fen, up to the annual limit."""
    over = base - tier.threshold[aid_class]
    if over <= ZERO:
        return ZERO
    due = fen(over * tier.ratio[aid_class])
    limit = tier.annual_limit[aid_class]
    return due if limit is None or due <= limit else limit


TARGETS: dict[str, Target] = {
    "critical_illness": banded_target,
    "graded_assistance": banded_target,
    "secondary_assistance": secondary_assistance_target,
    "bottom_line": bottom_line_target,
}
"""The target of each cumulative kind."""


def target(tier: CumulativeTier, aid_class: AidClass, base: Decimal) -> Decimal:
    """What a cumulative tier owes a person of ``aid_class`` for a year's ``base``."""
    return TARGETS[tier.kind](tier, aid_class, base)


class CumulativeStep(NamedTuple):
    """A cumulative tier on one bill, as the cashier's line tells it (with its trace step,
    which holds the same amounts written out)."""

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


_new_step = tuple.__new__


def cumulative(
    tier: CumulativeTier,
    st: BillState,
    owed: Target,
    line: Callable[[Any, AidClass, CumulativeStep, dict[str, str]], str],
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

    ``owed`` is the tier's target, ``line`` its cashier's line (given the step and its trace),
    ``trace_names`` the trace step and its names for the base before and after the bill."""
    base = st.rem_in
    before = running_total(st.totals, tier.base_key)
    after = before + base
    if base:
        st.deltas[tier.base_key] = base
    aid_class = st.aid_class
    if aid_class not in tier.aid_classes:
        return
    # What ``headroom`` reads for every cumulative tier: ``annual_limit`` on ``<code>``.
    key, paid, limit, left = account(st.totals, tier.code, tier.annual_limit[aid_class])
    # Every target is 0 up to the threshold, so it is only computed above it.
    threshold = tier.threshold[aid_class]
    owed_after = owed(tier, aid_class, after) if after > threshold else ZERO
    due = owed_after - paid if owed_after > paid else ZERO
    pay = due
    if left is not None and pay > left:
        pay = left
    if pay > base:  # after a revoke, the tier may owe more than this bill brings in
        pay = base
    corrected = paid != (owed(tier, aid_class, before) if before > threshold else ZERO)
    # tuple.__new__ skips the named tuple's Python-level __new__ (this runs on every bill).
    step = _new_step(
        CumulativeStep, (base, before, after, owed_after, paid, corrected, due, limit, left, pay)
    )
    name, before_name, after_name = trace_names
    trace = {
        "step": name,
        "fund_pay_type": tier.code,
        "base": money(base),
        before_name: money(before),
        after_name: money(after),
        "threshold": money(threshold),
        "target": money(owed_after),
        "paid_before": money(paid),
        "computed": money(due),
    }
    if left is not None:
        trace["limit_before"] = money(left)
    record(st, tier, base, key, left, pay, line(tier, aid_class, step, trace), trace)


def critical_illness(tier: CriticalIllnessTier, st: BillState) -> None:
    """Banded ratios on the year's cumulative base above a threshold, with an annual cap."""
    cumulative(
        tier,
        st,
        banded_target,
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


def graded_assistance(tier: GradedAssistanceTier, st: BillState) -> None:
    """Banded ratios by class on the year's in-scope amount still on the patient above a
    yearly threshold, inside the annual limit."""
    cumulative(
        tier,
        st,
        banded_target,
        cashier.graded_assistance_line,
        ("graded_assistance", "base_before", "base_after"),
    )


def secondary_assistance(tier: SecondaryAssistanceTier, st: BillState) -> None:
    """Once the year's in-scope amount left on the patient exceeds a threshold, a ratio of
    the excess, inside the annual limit."""
    cumulative(
        tier,
        st,
        secondary_assistance_target,
        cashier.secondary_assistance_line,
        ("secondary_assistance", "cash_before", "cash_after"),
    )


def outpatient_chronic(tier: OutpatientChronicTier, st: BillState) -> None:
    """The visit's chronic-disease group: the year's deductible not yet taken, then the
    group's ratio by hospital level, up to the group's annual cap."""
    group = st.group
    aid_class = st.aid_class
    if group is None or group.tier_code != tier.code or aid_class not in tier.aid_classes:
        return
    totals = st.totals
    key, _, limit, left = account(totals, group.key, group.annual_cap[aid_class])
    base = st.rem_in
    deductible = group.deductible[aid_class]
    applied = yearly_deductible(totals, group.deductible_key, deductible, base)
    above = base - applied
    ratio = group.ratio[st.level]
    due = fen(above * ratio)
    pay = due if left is None or due <= left else left
    st.act_pay_dedc += applied
    st.add_delta(group.deductible_key, applied)
    trace = {
        "step": "outpatient_chronic",
        "fund_pay_type": tier.code,
        "group": group.id,
        "base": money(base),
        "ratio": str(ratio),
        "computed": money(due),
    }
    if deductible:
        trace["deductible"] = money(deductible)
        trace["deductible_taken_before"] = money(running_total(totals, group.deductible_key))
        trace["act_pay_dedc"] = money(applied)
    if left is not None:
        trace["limit_before"] = money(left)
    info = cashier.outpatient_chronic_line(group, st.level, above, due, limit, pay, trace)
    record(st, tier, base, key, left, pay, info, trace)


def supplementary(tier: SupplementaryTier, st: BillState) -> None:
    """After the year's deductible, a ratio of the in-scope amount still on the patient (and
    optionally of the out-of-scope amount), up to the annual cap."""
    aid_class = st.aid_class
    if aid_class not in tier.aid_classes:
        return
    totals = st.totals
    key, _, limit, left = headroom(tier, aid_class, st.visit_type, totals)
    base = st.rem_in
    deductible = tier.deductible[aid_class]
    applied = (
        yearly_deductible(totals, tier.deductible_key, deductible, base) if deductible else ZERO
    )
    ratio = tier.ratio[aid_class]
    due_in = fen((base - applied) * ratio)
    out_ratio = tier.out_of_scope_ratio[aid_class]
    base_out = st.rem_out
    due_out = fen(base_out * out_ratio) if out_ratio else ZERO
    due = due_in + due_out
    pay = due if left is None or due <= left else left
    pay_in = due_in if due_in <= pay else pay
    st.add_delta(tier.deductible_key, applied)
    trace = {
        "step": "supplementary",
        "fund_pay_type": tier.code,
        "base": money(base),
        "ratio": str(ratio),
        "computed": money(due),
    }
    if deductible:
        trace["deductible"] = money(deductible)
        trace["deductible_applied"] = money(applied)
    if out_ratio:
        trace["base_out_of_scope"] = money(base_out)
        trace["out_of_scope_ratio"] = str(out_ratio)
    if left is not None:
        trace["limit_before"] = money(left)
    info = cashier.supplementary_line(
        tier, aid_class, ratio, due_in, out_ratio, due_out, limit, pay, trace
    )
    record(st, tier, base, key, left, pay, info, trace, pay - pay_in)


def disease_programme(tier: DiseaseProgrammeTier, st: BillState) -> None:
    """The visit's disease programme: the in-scope amount still on the patient above the
    most the programme lets the patient pay, inside the fund's annual limit."""
    programme = st.programme
    aid_class = st.aid_class
    if programme is None or programme.fund != tier.code or aid_class not in tier.aid_classes:
        return
    key, _, limit, left = headroom(tier, aid_class, st.visit_type, st.totals)
    base = st.rem_in
    keep = programme.patient_part(st.inscp)
    due = base - keep if base > keep else ZERO
    pay = due if left is None or due <= left else left
    trace = {
        "step": "disease_programme",
        "fund_pay_type": tier.code,
        "programme": programme.name,
        "base": money(base),
        "patient_part_max": money(keep),
        "computed": money(due),
    }
    if left is not None:
        trace["limit_before"] = money(left)
    info = cashier.disease_programme_line(programme, aid_class, st.inscp, due, limit, pay, trace)
    record(st, tier, base, key, left, pay, info, trace)


RULES: dict[str, Callable[[Any, BillState], None]] = {
    "basic": basic,
    "critical_illness": critical_illness,
    "medical_assistance": medical_assistance,
    "bottom_line": bottom_line,
    "outpatient_chronic": outpatient_chronic,
    "graded_assistance": graded_assistance,
    "secondary_assistance": secondary_assistance,
    "supplementary": supplementary,
    "disease_programme": disease_programme,
}
"""The rule of each kind of tier (the keys of ``params.TIER_PARSERS``)."""
