"""The cashier's lines (``setl_proc_info``): one Chinese sentence per fund row saying how its
amount came out. Text only — every amount is computed by the rules and passed in."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from .params import Band, BasicCase, BottomLineTier, CriticalIllnessTier
from .types import AidClass
from .vocabulary import AID_CLASS_LABELS, FUND_KIND_LABELS, VISIT_TYPE_LABELS

if TYPE_CHECKING:
    from .rules import CumulativeStep

# Renders an amount already on the fen (exponent −2) as "12.30". Every amount the engine
# produces is on the fen because inputs are rounded on the way in, so plain ``str`` suffices
# (and is several times faster than format()).
money: Callable[[Decimal], str] = str


@functools.cache
def pct(ratio: Decimal) -> str:
    """A ratio as a percentage ("75%"); cached, policies use few distinct ratios."""
    return f"{(ratio * 100).normalize():f}%"


def limit_text(
    left: Decimal | None, limit: Decimal | None, due: Decimal, pay: Decimal, word: str
) -> str:
    """The annual-limit clause (``word``: 封顶线, 救助限额, 兜底限额); empty without a limit."""
    if limit is None or left is None:
        return ""
    text = f"；年度{word}{limit!s}元，本次前剩余{left!s}元"
    if pay < due:
        text += f"，已达年度{word}，实付{money(pay)}元"
    return text


@functools.lru_cache(maxsize=4096)
def _basic_head(case: BasicCase) -> tuple[str, str, str]:
    """The fixed parts of a basic-fund line for one case (cases compare by identity, so a
    policy's cases stay cached while it is in use): where, the deductible clause, the ratio."""
    where = f"{VISIT_TYPE_LABELS[case.visit_type]}·{case.level}级医院：政策范围内"
    deductible, full = case.deductible, case.full_deductible
    text = ""
    if full:
        text = f"，起付线{money(deductible)}元"
        if deductible != full:
            text += f"（{AID_CLASS_LABELS[case.aid_class]}，原{money(full)}元）"
    return where, text, f"按{pct(case.ratio)}支付"


def basic_line(
    case: BasicCase,
    base: Decimal,
    above: Decimal,
    due: Decimal,
    limit: Decimal | None,
    left: Decimal | None,
    pay: Decimal,
) -> str:
    """住院·2级医院：政策范围内…元，起付线…元，超出部分…元按75%支付…元[；年度封顶线…]."""
    where, deductible_text, ratio_text = _basic_head(case)
    info = f"{where}{money(base)}元{deductible_text}"
    if not case.deductible:
        info += f"，{ratio_text}{money(due)}元"
    elif above:
        info += f"，超出部分{money(above)}元{ratio_text}{money(due)}元"
    else:
        info += "，未超过起付线"
    return info + limit_text(left, limit, due, pay, "封顶线")


@functools.lru_cache(maxsize=4096)
def band_label(band: Band) -> str:
    """A band of the critical-illness ratios: "0.00–100000.00元段55%", the open last band
    "200000.00元以上段75%"."""
    if band.upper is None:
        return f"{money(band.lower)}元以上段{pct(band.ratio)}"
    return f"{money(band.lower)}–{money(band.upper)}元段{pct(band.ratio)}"


def bands_text(bands: Sequence[Band], low: Decimal, high: Decimal) -> str:
    """The bands that the part of the year's base between ``low`` and ``high`` (amounts above
    the threshold) falls in, joined with 、."""
    return "、".join(
        band_label(band)
        for band in bands
        if not (high <= band.lower or (band.upper is not None and low >= band.upper))
    )


def _cumulative_tail(step: CumulativeStep, word: str) -> str:
    """How a cumulative tier's payment came out of the year: a correction after a revoke, a
    payment held to the bill's base, the annual limit."""
    text = ""
    if step.corrected:
        text = f"（年度应付{money(step.target)}元，已付{money(step.paid)}元"
        if step.paid > step.target:
            text += f"，多付{money(step.paid - step.target)}元由本年度后续结算抵扣"
        text += "）"
    due = step.due
    if due > step.base:
        text += f"，以本次计入{money(step.base)}元为限"
        due = step.base
    return text + limit_text(step.left, step.limit, due, step.pay, word)


def critical_illness_line(
    tier: CriticalIllnessTier, aid_class: AidClass, step: CumulativeStep
) -> str:
    """大病保险（…）：本次计入…元，年度累计…→…元，起付线…元，超出部分按…，按累计计算本次支付…元."""
    threshold = tier.threshold[aid_class]
    before, after = step.before, step.after
    info = (
        f"{FUND_KIND_LABELS['critical_illness']}（{AID_CLASS_LABELS[aid_class]}）："
        f"本次计入{money(step.base)}元，年度累计{money(before)}→{money(after)}元，"
        f"起付线{money(threshold)}元"
    )
    if after <= threshold:
        info += "，未超过起付线"
    else:
        low = (before if before > threshold else threshold) - threshold
        bands_over = bands_text(tier.bands[aid_class], low, after - threshold)
        info += f"，超出部分按{bands_over}，按累计计算本次支付{money(step.due)}元"
    return info + _cumulative_tail(step, "封顶线")


def medical_assistance_line(
    aid_class: AidClass,
    base: Decimal,
    ratio: Decimal,
    due_in: Decimal,
    base_out: Decimal,
    out_ratio: Decimal,
    due_out: Decimal,
    limit: Decimal | None,
    left: Decimal | None,
    pay: Decimal,
) -> str:
    """医疗救助（…）：个人负担的政策范围内…元按70%救助…元[，政策范围外…][；年度救助限额…]."""
    info = (
        f"{FUND_KIND_LABELS['medical_assistance']}（{AID_CLASS_LABELS[aid_class]}）："
        f"个人负担的政策范围内{money(base)}元按{pct(ratio)}救助{money(due_in)}元"
    )
    if out_ratio:
        info += f"，政策范围外{money(base_out)}元按{pct(out_ratio)}救助{money(due_out)}元"
    return info + limit_text(left, limit, due_in + due_out, pay, "救助限额")


def bottom_line_line(tier: BottomLineTier, aid_class: AidClass, step: CumulativeStep) -> str:
    """政府兜底（…）：年度政策范围内个人负担累计…→…元，兜底线…元，超出部分支付…元."""
    threshold = tier.threshold[aid_class]
    info = (
        f"{FUND_KIND_LABELS['bottom_line']}（{AID_CLASS_LABELS[aid_class]}）："
        f"年度政策范围内个人负担累计{money(step.before)}→{money(step.after)}元，"
        f"兜底线{money(threshold)}元"
    )
    info += f"，超出部分支付{money(step.due)}元" if step.after > threshold else "，未超过兜底线"
    return info + _cumulative_tail(step, "兜底限额")


def temporary_assistance_line(
    name: str, left_on_patient: Decimal, balance: Decimal, pay: Decimal
) -> str:
    """临时救助：个人负担…元，临时救助余额…元，本次支付…元."""
    return (
        f"{name}：个人负担{money(left_on_patient)}元，"
        f"{FUND_KIND_LABELS['temporary_assistance']}余额{money(balance)}元，本次支付{money(pay)}元"
    )
