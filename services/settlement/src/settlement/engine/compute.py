"""The settlement computation: fee items → scope → fund waterfall → patient share.

``compute`` is a pure function of its arguments. The running-total keys it reads and moves are
listed in the ``settlement.engine`` package docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from shared.money import FEN, ZERO

from .errors import BillInputError, EngineError
from .funds import BillState, money
from .policy import Policy
from .types import (
    AID_CLASSES,
    VISIT_TYPES,
    AidClass,
    Bill,
    FeeItem,
    FundDetail,
    FundLimit,
    VisitType,
)

TEMPORARY_ASSISTANCE_KEY = "temporary_assistance"


def _item_error(index: int, item: FeeItem) -> BillInputError:
    """Say what is wrong with an item the fast path refused."""
    where = f"items[{index}]"
    for name in ("unit_price", "quantity", "amount", "price_cap", "self_pay_ratio"):
        value = getattr(item, name)
        if value is None and name not in ("unit_price", "quantity"):
            continue
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            return BillInputError(f"{where}.{name}", "must be a decimal number")
        if isinstance(value, Decimal) and not value.is_finite():
            return BillInputError(f"{where}.{name}", "must be a finite number")
        if value < 0:
            return BillInputError(f"{where}.{name}", "must not be negative")
        if name == "self_pay_ratio" and value > 1:
            return BillInputError(f"{where}.{name}", "must be between 0 and 1")
    if item.category not in ("A", "B", "C"):
        return BillInputError(f"{where}.category", "must be A, B or C")
    return BillInputError(where, "cannot be settled")


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
    try:
        if not grant_balance >= ZERO:
            raise InvalidOperation
        # A balance is paid out in whole fen, never more than it holds.
        grant_balance = grant_balance.quantize(FEN, ROUND_DOWN)
    except (AttributeError, TypeError, InvalidOperation):
        raise BillInputError("grant_balance", "must be a non-negative amount") from None

    # 1. Scope, item by item, each part rounded to the fen.
    half_up = ROUND_HALF_UP
    default_b = policy.b_self_pay_ratio
    fulamt = overlmt = preself = inscp = ZERO
    for index, item in enumerate(items):
        try:
            unit_price = item.unit_price
            quantity = item.quantity
            if unit_price < ZERO or quantity < ZERO:
                raise _item_error(index, item)
            amount = (unit_price * quantity).quantize(FEN, half_up)
            given = item.amount
            if given is not None and given != amount:
                if given < ZERO:
                    raise BillInputError(f"items[{index}].amount", "must not be negative")
                raise BillInputError(
                    f"items[{index}].amount",
                    f"{given} does not equal unit_price × quantity = {money(amount)}",
                )
            cap = item.price_cap
            ratio = item.self_pay_ratio
            if (cap is not None and cap < ZERO) or (ratio is not None and not ZERO <= ratio <= 1):
                raise _item_error(index, item)
            category = item.category
            if category == "C":
                fulamt += amount
                continue
            if category != "A" and category != "B":
                raise _item_error(index, item)
            within = amount
            if cap is not None:
                if cap < unit_price:
                    # The within-cap part is cap × quantity rounded; the over-cap part is the rest,
                    # so the two always add up to the item's amount.
                    within = (cap * quantity).quantize(FEN, half_up)
                    overlmt += amount - within
            if category == "B":
                pre = (within * (default_b if ratio is None else ratio)).quantize(FEN, half_up)
                preself += pre
                within -= pre
            inscp += within
        except (TypeError, AttributeError, InvalidOperation):
            raise _item_error(index, item) from None

    medfee = fulamt + overlmt + preself + inscp
    trace: list[dict[str, str]] = [
        {
            "step": "scope",
            "items": str(len(items)),
            "medfee_sumamt": money(medfee),
            "fulamt_ownpay_amt": money(fulamt),
            "overlmt_selfpay": money(overlmt),
            "preselfpay_amt": money(preself),
            "inscp_scp_amt": money(inscp),
        }
    ]

    # 2. The funds, in the policy's order.
    st = BillState(
        hospital_level, visit_type, aid_class, totals, inscp, fulamt + overlmt + preself, trace
    )
    for fund in policy.funds_by_visit[visit_type]:
        fund.apply(st)

    # 3. Temporary assistance (临时救助) from the person's grants, on what is still left.
    if grant_balance > ZERO:
        left_on_patient = st.rem_in + st.rem_out
        pay = grant_balance if grant_balance < left_on_patient else left_on_patient
        code, name = policy.temporary_assistance_code, policy.temporary_assistance_name
        st.details.append(
            FundDetail(
                code,
                name,
                "oth_pay",
                st.rem_in,
                grant_balance,
                pay,
                f"{name}：个人负担{money(left_on_patient)}元，临时救助余额{money(grant_balance)}元，"
                f"本次支付{money(pay)}元",
            )
        )
        trace.append(
            {
                "step": "temporary_assistance",
                "fund_pay_type": code,
                "base": money(left_on_patient),
                "limit_before": money(grant_balance),
                "fund_payamt": money(pay),
            }
        )
        st.pays["oth_pay"] += pay
        st.add_delta(TEMPORARY_ASSISTANCE_KEY, pay)
        pay_in = pay if pay <= st.rem_in else st.rem_in
        st.rem_in -= pay_in
        st.rem_out -= pay - pay_in

    # 4. The patient pays the rest.
    pays = st.pays
    hifp, hifmi, maf, oth = pays["hifp_pay"], pays["hifmi_pay"], pays["maf_pay"], pays["oth_pay"]
    fund_sum = hifp + hifmi + maf + oth
    cash = st.rem_in + st.rem_out
    trace.append(
        {"step": "patient", "fund_pay_sumamt": money(fund_sum), "psn_cash_pay": money(cash)}
    )
    return Bill(
        policy_version=policy.version,
        visit_type=visit_type,
        aid_class=aid_class,
        hospital_level=hospital_level,
        medfee_sumamt=medfee,
        fulamt_ownpay_amt=fulamt,
        overlmt_selfpay=overlmt,
        preselfpay_amt=preself,
        inscp_scp_amt=inscp,
        act_pay_dedc=st.act_pay_dedc,
        hifp_pay=hifp,
        hifmi_pay=hifmi,
        maf_pay=maf,
        oth_pay=oth,
        fund_pay_sumamt=fund_sum,
        psn_cash_pay=cash,
        setldetail=tuple(st.details),
        trace=tuple(trace),
        deltas=st.deltas,
    )


def remaining_limits(
    policy: Policy, *, aid_class: AidClass, totals: Mapping[str, Decimal]
) -> list[FundLimit]:
    """What each fund that takes part for this aid class has paid this year and may still pay.

    Uses the same limit functions as ``compute``."""
    if aid_class not in AID_CLASSES:
        raise BillInputError("aid_class", "must be key, assisted or none")
    return [limit for fund in policy.funds for limit in fund.limits(aid_class, totals)]


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
