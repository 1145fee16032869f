"""Interim settlement (中途结算): a stay settled in parts pays what one bill would.

Each part is computed as *the whole stay so far* — every line of the earlier parts and this
part, on the running totals as they were before the stay — minus what the earlier parts
already paid. So the deductible is charged once per admission, and the sum of every
``setlinfo`` amount over the parts equals, to the fen, the bill of all the lines at once
(the differences telescope). Pure: values in, a ``Bill`` out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from shared.money import ZERO

from .types import SETLINFO_FIELDS, Bill


@dataclass(frozen=True, slots=True)
class EarlierPart:
    """What a settled part of the same stay paid: its ``setlinfo`` amounts, each fund's
    ``(fund_payamt, inscp_scp_amt)`` by ``fund_pay_type``, and its running-total deltas."""

    setlinfo: Mapping[str, Decimal]
    funds: Mapping[str, tuple[Decimal, Decimal]]
    deltas: Mapping[str, Decimal]


def _sum(parts: Sequence[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = out.get(key, ZERO) + value
    return out


def earlier_deltas(parts: Sequence[EarlierPart]) -> dict[str, Decimal]:
    """The running-total deltas the earlier parts moved (taken back out of the totals before
    the whole stay is computed)."""
    return _sum([p.deltas for p in parts])


def remaining_part(whole: Bill, parts: Sequence[EarlierPart]) -> Bill:
    """This part of the stay: ``whole`` (all lines so far, computed on the totals before the
    stay) minus the earlier ``parts``. Every fund row's ``crt_payb_lmt_amt`` becomes what
    the fund could still pay before this part."""
    if not parts:
        return whole
    paid = _sum([p.setlinfo for p in parts])
    fund_paid: dict[str, Decimal] = {}
    fund_base: dict[str, Decimal] = {}
    for part in parts:
        for code, (pay, base) in part.funds.items():
            fund_paid[code] = fund_paid.get(code, ZERO) + pay
            fund_base[code] = fund_base.get(code, ZERO) + base
    details = tuple(
        replace(
            d,
            inscp_scp_amt=d.inscp_scp_amt - fund_base.get(d.fund_pay_type, ZERO),
            crt_payb_lmt_amt=(
                None
                if d.crt_payb_lmt_amt is None
                else d.crt_payb_lmt_amt - fund_paid.get(d.fund_pay_type, ZERO)
            ),
            fund_payamt=d.fund_payamt - fund_paid.get(d.fund_pay_type, ZERO),
            setl_proc_info=(
                f"{d.setl_proc_info}；中途结算：本次住院前{len(parts)}次已付"
                f"{fund_paid.get(d.fund_pay_type, ZERO)}元"
            ),
        )
        for d in whole.setldetail
    )
    moved = earlier_deltas(parts)
    deltas = {
        key: value
        for key in set(whole.deltas) | set(moved)
        if (value := whole.deltas.get(key, ZERO) - moved.get(key, ZERO))
    }
    step = {
        "step": "interim",
        "earlier_parts": str(len(parts)),
        "earlier_medfee_sumamt": str(paid.get("medfee_sumamt", ZERO)),
        "earlier_fund_pay_sumamt": str(paid.get("fund_pay_sumamt", ZERO)),
    }
    amounts = {name: getattr(whole, name) - paid.get(name, ZERO) for name in SETLINFO_FIELDS}
    return replace(whole, setldetail=details, deltas=deltas, trace=(*whole.trace, step), **amounts)
