"""The cashier's lines (``setl_proc_info``): one Chinese sentence per fund row saying how its
amount came out. Text only — every amount is computed by the rules and passed in: the amounts
a line compares as ``Decimal``, the ones it prints already written out in the tier's trace
step (``t``: ``base``, ``computed``, ``limit_before``, …), so no amount is written twice."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from .params import (
    Band,
    BandedTier,
    BasicCase,
    BottomLineTier,
    ChronicGroup,
    CriticalIllnessTier,
    GradedAssistanceTier,
    SecondaryAssistanceTier,
    SupplementaryTier,
)
from .types import AidClass
from .vocabulary import AID_CLASS_LABELS, FUND_KIND_LABELS, VISIT_TYPE_LABELS

if TYPE_CHECKING:
    from .programmes import Programme
    from .rules import CumulativeStep

# Renders an amount already on the fen (exponent −2) as "12.30". Every amount the engine
# produces is on the fen because inputs are rounded on the way in, so plain ``str`` suffices
# (and is several times faster than format()).
money: Callable[[Decimal], str] = str


@functools.cache
def pct(ratio: Decimal) -> str:
    """A ratio as a percentage ("75%"); cached, policies use few distinct ratios."""
    return f"{(ratio * 100).normalize():f}%"


Trace = dict[str, str]
"""A tier's trace step: its amounts written out, by name."""


def limit_text(t: Trace, limit: Decimal | None, due: Decimal, pay: Decimal, word: str) -> str:
    """The annual-limit clause (``word``: 封顶线, 救助限额, 兜底限额); empty without a limit.
    What the limit left before the bill is the step's ``limit_before``."""
    left = t.get("limit_before")
    if limit is None or left is None:
        return ""
    text = f"；年度{word}{limit!s}元，本次前剩余{left}元"
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
    case: BasicCase, above: Decimal, due: Decimal, limit: Decimal | None, pay: Decimal, t: Trace
) -> str:
    """住院·2级医院：政策范围内…元，起付线…元，超出部分…元按75%支付…元[；年度封顶线…]."""
    where, deductible_text, ratio_text = _basic_head(case)
    info = f"{where}{t['base']}元{deductible_text}"
    if not case.deductible:
        info += f"，{ratio_text}{t['computed']}元"
    elif above:
        info += f"，超出部分{money(above)}元{ratio_text}{t['computed']}元"
    else:
        info += "，未超过起付线"
    return info + limit_text(t, limit, due, pay, "封顶线")


@functools.lru_cache(maxsize=4096)
def band_label(band: Band) -> str:
    """A band of banded ratios: "0.00–100000.00元段55%", the open last band
    "200000.00元以上段75%"."""
    if band.upper is None:
        return f"{money(band.lower)}元以上段{pct(band.ratio)}"
    return f"{money(band.lower)}–{money(band.upper)}元段{pct(band.ratio)}"


def bands_text(bands: Sequence[Band], low: Decimal, high: Decimal) -> str:
    """The bands that the part of the year's base between ``low`` and ``high`` (amounts above
    the threshold) falls in, joined with 、."""
    text = ""
    for band in bands:  # in ascending order
        upper = band.upper
        if upper is not None and low >= upper:
            continue
        text = f"{text}、{band_label(band)}" if text else band_label(band)
        if upper is None or high <= upper:
            break
    return text


@functools.lru_cache(maxsize=256)
def class_head(label: str, aid_class: AidClass) -> str:
    """The start of a line: "大病保险（重点救助对象）："."""
    return f"{label}（{AID_CLASS_LABELS[aid_class]}）："


def _cumulative_tail(step: CumulativeStep, t: Trace, word: str) -> str:
    """How a cumulative tier's payment came out of the year: a correction after a revoke, a
    payment held to the bill's base, the annual limit."""
    text = ""
    if step.corrected:
        text = f"（年度应付{t['target']}元，已付{t['paid_before']}元"
        if step.paid > step.target:
            text += f"，多付{money(step.paid - step.target)}元由本年度后续结算抵扣"
        text += "）"
    due = step.due
    if due > step.base:
        text += f"，以本次计入{t['base']}元为限"
        due = step.base
    return text + limit_text(t, step.limit, due, step.pay, word)


def _banded_line(
    label: str, tier: BandedTier, aid_class: AidClass, step: CumulativeStep, t: Trace, word: str
) -> str:
    threshold = tier.threshold[aid_class]
    before, after = step.before, step.after
    info = (
        f"{class_head(label, aid_class)}本次计入{t['base']}元，"
        f"年度累计{t['base_before']}→{t['base_after']}元，起付线{t['threshold']}元"
    )
    if after <= threshold:
        info += "，未超过起付线"
    else:
        low = (before if before > threshold else threshold) - threshold
        bands_over = bands_text(tier.bands[aid_class], low, after - threshold)
        info += f"，超出部分按{bands_over}，按累计计算本次支付{t['computed']}元"
    return info + _cumulative_tail(step, t, word)


def critical_illness_line(
    tier: CriticalIllnessTier, aid_class: AidClass, step: CumulativeStep, t: Trace
) -> str:
    """大病保险（…）：本次计入…元，年度累计…→…元，起付线…元，超出部分按…，按累计计算本次支付…元."""
    return _banded_line(FUND_KIND_LABELS["critical_illness"], tier, aid_class, step, t, "封顶线")


def graded_assistance_line(
    tier: GradedAssistanceTier, aid_class: AidClass, step: CumulativeStep, t: Trace
) -> str:
    """医疗救助·分类分段（…）：本次计入…元，年度累计…→…元，起付线…元，超出部分按…段…%，
    按累计计算本次支付…元[；年度救助限额…]."""
    label = FUND_KIND_LABELS["graded_assistance"]
    return _banded_line(label, tier, aid_class, step, t, "救助限额")


def secondary_assistance_line(
    tier: SecondaryAssistanceTier, aid_class: AidClass, step: CumulativeStep, t: Trace
) -> str:
    """二次医疗救助（…）：年度政策范围内个人负担累计…→…元，起付线…元，超出部分按70%救助，按累计
    计算本次支付…元[；年度救助限额…]."""
    info = (
        f"{class_head(FUND_KIND_LABELS['secondary_assistance'], aid_class)}"
        f"年度政策范围内个人负担累计{t['cash_before']}→{t['cash_after']}元，"
        f"起付线{t['threshold']}元"
    )
    if step.after > tier.threshold[aid_class]:
        info += f"，超出部分按{pct(tier.ratio[aid_class])}救助，按累计计算本次支付{t['computed']}元"
    else:
        info += "，未超过起付线"
    return info + _cumulative_tail(step, t, "救助限额")


def bottom_line_line(
    tier: BottomLineTier, aid_class: AidClass, step: CumulativeStep, t: Trace
) -> str:
    """政府兜底（…）：年度政策范围内个人负担累计…→…元，兜底线…元，超出部分支付…元."""
    info = (
        f"{class_head(FUND_KIND_LABELS['bottom_line'], aid_class)}"
        f"年度政策范围内个人负担累计{t['cash_before']}→{t['cash_after']}元，"
        f"兜底线{t['threshold']}元"
    )
    if step.after > tier.threshold[aid_class]:
        info += f"，超出部分支付{t['computed']}元"
    else:
        info += "，未超过兜底线"
    return info + _cumulative_tail(step, t, "兜底限额")


def medical_assistance_line(
    aid_class: AidClass,
    ratio: Decimal,
    due_in: Decimal,
    out_ratio: Decimal,
    due_out: Decimal,
    limit: Decimal | None,
    pay: Decimal,
    t: Trace,
) -> str:
    """医疗救助（…）：个人负担的政策范围内…元按70%救助…元[，政策范围外…][；年度救助限额…]."""
    info = (
        f"{class_head(FUND_KIND_LABELS['medical_assistance'], aid_class)}"
        f"个人负担的政策范围内{t['base']}元按{pct(ratio)}救助{money(due_in)}元"
    )
    if out_ratio:
        info += f"，政策范围外{t['base_out_of_scope']}元按{pct(out_ratio)}救助{money(due_out)}元"
    return info + limit_text(t, limit, due_in + due_out, pay, "救助限额")


def outpatient_chronic_line(
    group: ChronicGroup,
    level: int,
    above: Decimal,
    due: Decimal,
    limit: Decimal | None,
    pay: Decimal,
    t: Trace,
) -> str:
    """门诊慢特病·尿毒症透析（2级医院）：政策范围内…元[，年度起付线…元（本年已计…元），本次计入
    起付线…元，超出部分…元]按90%支付…元[；年度封顶线…]."""
    info = (
        f"{FUND_KIND_LABELS['outpatient_chronic']}·{group.name}（{level}级医院）："
        f"政策范围内{t['base']}元"
    )
    ratio = pct(group.ratio[level])
    if "deductible" in t:
        info += (
            f"，年度起付线{t['deductible']}元（本年已计{t['deductible_taken_before']}元），"
            f"本次计入起付线{t['act_pay_dedc']}元"
        )
        if above:
            info += f"，超出部分{money(above)}元按{ratio}支付{t['computed']}元"
        else:
            info += "，未超过起付线"
    else:
        info += f"，按{ratio}支付{t['computed']}元"
    return info + limit_text(t, limit, due, pay, "封顶线")


def supplementary_line(
    tier: SupplementaryTier,
    aid_class: AidClass,
    ratio: Decimal,
    due_in: Decimal,
    out_ratio: Decimal,
    due_out: Decimal,
    limit: Decimal | None,
    pay: Decimal,
    t: Trace,
) -> str:
    """扶贫特惠保险（…）：个人负担的政策范围内…元[，年度免赔额…元，本次免赔…元]，按50%支付…元
    [，政策范围外…][；年度封顶线…]."""
    info = f"{class_head(tier.name, aid_class)}个人负担的政策范围内{t['base']}元"
    if "deductible" in t:
        info += f"，年度免赔额{t['deductible']}元，本次免赔{t['deductible_applied']}元"
    info += f"，按{pct(ratio)}支付{money(due_in)}元"
    if out_ratio:
        info += f"，政策范围外{t['base_out_of_scope']}元按{pct(out_ratio)}支付{money(due_out)}元"
    return info + limit_text(t, limit, due_in + due_out, pay, "封顶线")


def disease_programme_line(
    programme: Programme,
    aid_class: AidClass,
    inscp: Decimal,
    due: Decimal,
    limit: Decimal | None,
    pay: Decimal,
    t: Trace,
) -> str:
    """专项救治·光明工程（…）：政策范围内费用…元，个人负担不超过0%即0.00元，各项基金支付后个人
    尚负担…元，专项救治支付…元[；年度救助限额…]. A case price: 单病种定额…元，个人定额负担…%
    即…元[（政策范围内费用超出定额…元）]."""
    label = f"{FUND_KIND_LABELS['disease_programme']}·{programme.name}"
    info = f"{class_head(label, aid_class)}政策范围内费用{money(inscp)}元，"
    price, share = programme.case_price, programme.case_patient_share
    if price is not None and share is not None:
        info += f"单病种定额{money(price)}元，个人定额负担{pct(share)}即{t['patient_part_max']}元"
        if inscp != price:
            word, gap = ("超出", inscp - price) if inscp > price else ("低于", price - inscp)
            info += f"（政策范围内费用{word}定额{money(gap)}元）"
    else:
        assert programme.patient_share_max is not None
        info += f"个人负担不超过{pct(programme.patient_share_max)}即{t['patient_part_max']}元"
    info += f"，各项基金支付后个人尚负担{t['base']}元，专项救治支付{t['computed']}元"
    return info + limit_text(t, limit, due, pay, "救助限额")


def adjusted_note(programme: Programme, code: str) -> str:
    """What the row of a tier a programme adjusted adds: （按光明工程调整起付线、支付比例）."""
    return f"（按{programme.name}调整{programme.adjust_note[code]}）"


def temporary_assistance_line(
    name: str, left_on_patient: Decimal, balance: Decimal, pay: Decimal
) -> str:
    """临时救助：个人负担…元，临时救助余额…元，本次支付…元."""
    return (
        f"{name}：个人负担{money(left_on_patient)}元，"
        f"{FUND_KIND_LABELS['temporary_assistance']}余额{money(balance)}元，本次支付{money(pay)}元"
    )
