"""The settlement computation: fee items → scope → fund waterfall → temporary assistance →
patient share.

``compute`` is a pure function of its arguments. The running-total keys it reads and moves are
listed in the ``settlement.engine`` package docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from shared.money import FEN, ZERO, fen

from . import cashier
from .cashier import money
from .errors import BillInputError, EngineError
from .limits import headroom, running_total
from .params import CumulativeTier
from .policy import Policy
from .rules import RULES, BillState, target
from .scope import Scope, scope_items
from .types import (
    AID_CLASSES,
    TEMPORARY_ASSISTANCE_KEY,
    VISIT_TYPES,
    AidClass,
    Bill,
    FeeItem,
    FundDetail,
    FundLimit,
    VisitType,
)


def compute(
    policy: Policy,
    *,
    hospital_level: int,
    visit_type: VisitType,
    aid_class: AidClass,
    items: Sequence[FeeItem],
    totals: Mapping[str, Decimal],
    grant_balance: Decimal = ZERO,
) -> Bill:
    """Split one bill between the policy's funds and the patient.

    Raises ``BillInputError`` (naming the field) for input the engine refuses."""
    _check_visit(policy, hospital_level, visit_type, aid_class, items)
    balance = _whole_fen_balance(grant_balance)
    scope = scope_items(items, policy.b_self_pay_ratio)
    st = BillState(
        hospital_level,
        visit_type,
        aid_class,
        totals,
        scope.inscp_scp_amt,
        scope.out_of_scope,
        [_scope_step(len(items), scope)],
    )
    waterfall(policy, st)
    if balance > ZERO:
        temporary_assistance(policy, st, balance)
    return _bill(policy, scope, st)


def _check_visit(
    policy: Policy,
    hospital_level: int,
    visit_type: VisitType,
    aid_class: AidClass,
    items: Sequence[FeeItem],
) -> None:
    if visit_type not in VISIT_TYPES:
        raise BillInputError("visit_type", "must be inpatient or outpatient")
    if aid_class not in AID_CLASSES:
        raise BillInputError("aid_class", "must be key, assisted or none")
    if hospital_level not in policy.hospital_levels:
        levels = ", ".join(str(level) for level in policy.hospital_levels)
        raise BillInputError(
            "hospital_level", f"must be one of {levels} under policy {policy.version}"
        )
    if not items:
        raise BillInputError("items", "must not be empty")


def _whole_fen_balance(grant_balance: Decimal) -> Decimal:
    """A grant balance is paid out in whole fen, never more than it holds (rounded down)."""
    try:
        if not grant_balance >= ZERO:
            raise InvalidOperation
        rounded = fen(grant_balance)
    except (AttributeError, TypeError, InvalidOperation):
        raise BillInputError("grant_balance", "must be a non-negative amount") from None
    return rounded - FEN if rounded > grant_balance else rounded


def _scope_step(count: int, scope: Scope) -> dict[str, str]:
    return {
        "step": "scope",
        "items": str(count),
        "medfee_sumamt": money(scope.medfee_sumamt),
        "fulamt_ownpay_amt": money(scope.fulamt_ownpay_amt),
        "overlmt_selfpay": money(scope.overlmt_selfpay),
        "preselfpay_amt": money(scope.preselfpay_amt),
        "inscp_scp_amt": money(scope.inscp_scp_amt),
    }


def waterfall(policy: Policy, st: BillState) -> None:
    """The policy's tiers for the visit type, in file order."""
    for tier in policy.funds_by_visit[st.visit_type]:
        RULES[tier.kind](tier, st)


def temporary_assistance(policy: Policy, st: BillState, balance: Decimal) -> None:
    """Temporary assistance (临时救助) from the person's grants, on what is still on the
    patient (in scope first)."""
    left_on_patient = st.rem_in + st.rem_out
    pay = balance if balance < left_on_patient else left_on_patient
    code, name = policy.temporary_assistance_code, policy.temporary_assistance_name
    info = cashier.temporary_assistance_line(name, left_on_patient, balance, pay)
    st.details.append(FundDetail(code, name, "oth_pay", st.rem_in, balance, pay, info))
    st.trace.append(
        {
            "step": "temporary_assistance",
            "fund_pay_type": code,
            "base": money(left_on_patient),
            "limit_before": money(balance),
            "fund_payamt": money(pay),
        }
    )
    st.pays["oth_pay"] += pay
    st.add_delta(TEMPORARY_ASSISTANCE_KEY, pay)
    pay_in = pay if pay <= st.rem_in else st.rem_in
    st.rem_in -= pay_in
    st.rem_out -= pay - pay_in


def _bill(policy: Policy, scope: Scope, st: BillState) -> Bill:
    """The patient pays the rest."""
    pays = st.pays
    hifp, hifmi, maf, oth = pays["hifp_pay"], pays["hifmi_pay"], pays["maf_pay"], pays["oth_pay"]
    fund_sum = hifp + hifmi + maf + oth
    cash = st.rem_in + st.rem_out
    st.trace.append(
        {"step": "patient", "fund_pay_sumamt": money(fund_sum), "psn_cash_pay": money(cash)}
    )
    return Bill(
        policy_version=policy.version,
        visit_type=st.visit_type,
        aid_class=st.aid_class,
        hospital_level=st.level,
        medfee_sumamt=scope.medfee_sumamt,
        fulamt_ownpay_amt=scope.fulamt_ownpay_amt,
        overlmt_selfpay=scope.overlmt_selfpay,
        preselfpay_amt=scope.preselfpay_amt,
        inscp_scp_amt=scope.inscp_scp_amt,
        act_pay_dedc=st.act_pay_dedc,
        hifp_pay=hifp,
        hifmi_pay=hifmi,
        maf_pay=maf,
        oth_pay=oth,
        fund_pay_sumamt=fund_sum,
        psn_cash_pay=cash,
        setldetail=tuple(st.details),
        trace=tuple(st.trace),
        deltas=st.deltas,
        lines=scope.lines,
    )


def remaining_limits(
    policy: Policy, *, aid_class: AidClass, totals: Mapping[str, Decimal]
) -> list[FundLimit]:
    """What each fund that takes part for this aid class has paid this year and may still pay
    (the basic fund once per visit type). A fund the class does not use but that has paid the
    person this year (the class changed) is listed too, with nothing more to pay.

    Uses the same limit helper as ``compute``."""
    if aid_class not in AID_CLASSES:
        raise BillInputError("aid_class", "must be key, assisted or none")
    out = []
    for tier in policy.funds:
        if aid_class not in tier.aid_classes:
            for visit_type in tier.visit_types if tier.limit_per_visit_type else (None,):
                paid = running_total(totals, tier.limit_key(visit_type or tier.visit_types[0]))
                if paid > ZERO:
                    out.append(FundLimit(tier.code, tier.name, paid, None, ZERO, visit_type))
            continue
        if tier.limit_per_visit_type:
            for visit_type in tier.visit_types:
                _, paid, limit, left = headroom(tier, aid_class, visit_type, totals)
                out.append(FundLimit(tier.code, tier.name, paid, limit, left, visit_type))
        else:
            _, paid, limit, left = headroom(tier, aid_class, tier.visit_types[0], totals)
            out.append(FundLimit(tier.code, tier.name, paid, limit, left))
    return out


def to_be_absorbed(
    policy: Policy, *, aid_class: AidClass, totals: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Per cumulative tier (by fund code), what it has paid this year beyond what it owes for
    the year's base — ``paid − target(base)`` where positive. Only a revoke of a bill that has
    later bills in the same person-year (or a change of aid class) leaves such an amount; the
    next bills of the year absorb it by paying that much less from the tier."""
    if aid_class not in AID_CLASSES:
        raise BillInputError("aid_class", "must be key, assisted or none")
    out: dict[str, Decimal] = {}
    for tier in policy.funds:
        if not isinstance(tier, CumulativeTier) or aid_class not in tier.aid_classes:
            continue
        paid = running_total(totals, tier.code)
        over = paid - target(tier, aid_class, running_total(totals, tier.base_key))
        if over > ZERO:
            out[tier.code] = over
    return out


def apply_deltas(
    totals: Mapping[str, Decimal], deltas: Mapping[str, Decimal], sign: int = 1
) -> dict[str, Decimal]:
    """Running totals after settling (``sign=1``) or revoking (``sign=-1``) a bill.

    Keys that come to zero are dropped (missing means zero). A total that would go negative
    means the totals do not match the bills; that raises ``EngineError``."""
    if sign not in (1, -1):
        raise EngineError("sign must be 1 or -1")
    out = dict(totals)
    for key, amount in deltas.items():
        value = out.get(key, ZERO) + (amount if sign == 1 else -amount)
        if value < ZERO:
            raise EngineError(f"totals[{key}] would become negative ({value})")
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out
