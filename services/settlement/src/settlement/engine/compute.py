"""The settlement computation: fee items → scope → fund waterfall → temporary assistance →
patient share.

``compute`` is a pure function of its arguments. The running-total keys it reads and moves are
listed in the ``settlement.engine`` package docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from shared.money import FEN, ZERO, fen

from . import cashier, icd
from .cashier import money
from .errors import BillInputError, EngineError
from .frozen import maker
from .limits import account, headroom, running_total
from .params import ChronicGroup, CumulativeTier, OutpatientChronicTier, Tier
from .policy import Policy
from .programmes import Programme
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
    diagnoses: Sequence[str] = (),
    age: int | None = None,
) -> Bill:
    """Split one bill between the policy's funds and the patient.

    ``diagnoses``: the visit's ICD-10 codes (疾病诊断编码), for the disease programmes and the
    outpatient chronic-disease groups of the policy; ``age``: the patient's age in full years
    on the admission date (None: unknown — a programme with an age condition then does not
    apply). Raises ``BillInputError`` (naming the field) for input the engine refuses."""
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
    if diagnoses or age is not None:
        _match(policy, st, diagnoses, age)
    waterfall(policy, st)
    if balance > ZERO:
        temporary_assistance(policy, st, balance)
    return _bill(policy, scope, st)


def _match(policy: Policy, st: BillState, diagnoses: Sequence[str], age: int | None) -> None:
    """The visit's disease programme and outpatient chronic-disease group, each the first in
    file order that matches; a trace step for each."""
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise BillInputError("age", "must be a whole number of years, 0 or more")
    if isinstance(diagnoses, str):
        raise BillInputError("diagnoses", "must be a list of ICD-10 codes")
    codes = icd.visit_codes(diagnoses)
    if not codes:
        return
    for programme in policy.programmes:
        index = programme.matches(st.visit_type, st.aid_class, age, codes)
        if index is not None:
            st.programme = programme
            step = {"step": "programme", "name": programme.name, "diagnosis": diagnoses[index]}
            if age is not None:
                step["age"] = str(age)
            st.trace.append(step)
            break
    if st.visit_type != "outpatient":
        return
    for tier in policy.chronic_tiers:
        if st.aid_class not in tier.aid_classes:
            continue
        for group in tier.groups:
            index = icd.first_match(group.prefixes, codes)
            if index is not None:
                st.group = group
                st.trace.append(
                    {
                        "step": "chronic_disease",
                        "fund_pay_type": tier.code,
                        "group": group.id,
                        "name": group.name,
                        "diagnosis": diagnoses[index],
                    }
                )
                return


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
    """The policy's tiers for the visit, in file order (``route``)."""
    programme, group = st.programme, st.group
    if programme is None and group is None:
        tiers = policy.funds_by_visit[st.visit_type]
    else:
        tiers = route(policy, st.visit_type, group, programme)
    for tier in tiers:
        RULES[tier.kind](tier, st)
    if programme is not None and programme.adjust_note:
        st.details[:] = [
            replace(d, setl_proc_info=d.setl_proc_info + cashier.adjusted_note(programme, code))
            if (code := d.fund_pay_type) in programme.adjust_note
            else d
            for d in st.details
        ]


def route(
    policy: Policy, visit_type: VisitType, group: ChronicGroup | None, programme: Programme | None
) -> tuple[Tier, ...]:
    """The tiers a visit runs through, in file order (cached on the policy):

    - the tiers of its visit type; ``outpatient_chronic`` and ``disease_programme`` tiers
      only on a visit of one of their groups / programmes;
    - on an outpatient chronic-disease visit, the group's tier instead of the basic fund's
      general outpatient rule, and the critical-illness tiers too if the group counts toward
      their base;
    - on a programme's visit, the tiers it adjusts as adjusted."""
    cache_key = (visit_type, group, programme)
    tiers = policy.routes.get(cache_key)
    if tiers is not None:
        return tiers
    out: list[Tier] = []
    for tier in policy.funds:
        kind = tier.kind
        if kind == "outpatient_chronic":
            take = group is not None and group.tier_code == tier.code
        elif kind == "disease_programme":
            take = (
                programme is not None
                and programme.fund == tier.code
                and visit_type in tier.visit_types
            )
        elif group is not None and kind == "basic":
            take = False
        elif group is not None and kind == "critical_illness" and group.critical_illness:
            take = True
        else:
            take = visit_type in tier.visit_types
        if take:
            adjusted = programme.adjusted.get(tier.code) if programme is not None else None
            out.append(adjusted or tier)
    tiers = tuple(out)
    policy.routes[cache_key] = tiers
    return tiers


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


new_bill = maker(Bill)
"""``Bill(...)`` by keyword, made without the frozen ``__init__`` (``frozen.maker``)."""


def _bill(policy: Policy, scope: Scope, st: BillState) -> Bill:
    """The patient pays the rest."""
    pays = st.pays
    hifp, hifmi, maf, oth = pays["hifp_pay"], pays["hifmi_pay"], pays["maf_pay"], pays["oth_pay"]
    fund_sum = hifp + hifmi + maf + oth
    cash = st.rem_in + st.rem_out
    st.trace.append(
        {"step": "patient", "fund_pay_sumamt": money(fund_sum), "psn_cash_pay": money(cash)}
    )
    return new_bill(
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
    (the basic fund once per visit type, an outpatient chronic-disease fund once per group,
    with ``group`` its id and the group's name in ``fund_pay_type_name``). A fund the class
    does not use but that has paid the person this year (the class changed) is listed too,
    with nothing more to pay.

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
        if isinstance(tier, OutpatientChronicTier):
            for group in tier.groups:
                _, paid, limit, left = account(totals, group.key, group.annual_cap[aid_class])
                name = f"{tier.name}（{group.name}）"
                out.append(FundLimit(tier.code, name, paid, limit, left, "outpatient", group.id))
        elif tier.limit_per_visit_type:
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
