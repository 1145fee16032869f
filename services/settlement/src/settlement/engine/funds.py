"""Fund tiers of the waterfall (基本医保 → 大病保险 → 医疗救助 → 政府兜底 …).

Each tier kind reads its own parameters from the policy file and applies them to a bill in
progress. Every tier works on the in-scope amount still on the patient after the tiers before
it (``rem_in``). ``limit_state`` is the one place a tier's annual cap is read; both ``compute``
and ``remaining_limits`` go through it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import ClassVar, cast

from shared.money import FEN, ZERO

from .errors import BillInputError
from .reader import Checker, Table
from .types import (
    AID_CLASSES,
    SETLINFO_FUND_FIELDS,
    VISIT_TYPES,
    AidClass,
    FundDetail,
    FundLimit,
    SetlinfoField,
    VisitType,
)

CLASS_NAMES: dict[str, str] = {
    "key": "重点救助对象",
    "assisted": "一般救助对象",
    "none": "普通参保人员",
}
VISIT_NAMES: dict[str, str] = {"inpatient": "住院", "outpatient": "门诊"}


def fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, ROUND_HALF_UP)


# Renders an amount already on the fen (exponent −2) as "12.30". Every amount the engine
# produces is on the fen because inputs are quantized on the way in, so plain ``str`` suffices
# (and is several times faster than format()).
money: Callable[[Decimal], str] = str


@functools.cache
def pct(ratio: Decimal) -> str:
    """A ratio as a percentage ("75%"); cached, policies use few distinct ratios."""
    return f"{(ratio * 100).normalize():f}%"


def running_total(totals: Mapping[str, Decimal], key: str) -> Decimal:
    """A person's running total for the year; a missing key is zero."""
    value = totals.get(key)
    if value is None:
        return ZERO
    try:
        if value >= ZERO:
            return value.quantize(FEN, ROUND_HALF_UP)
    except (AttributeError, TypeError, InvalidOperation):
        pass
    raise BillInputError(f"totals[{key}]", "must be a non-negative amount")


def headroom(limit: Decimal | None, paid: Decimal) -> Decimal | None:
    """What a fund may still pay under an annual limit (None = no limit)."""
    if limit is None:
        return None
    return limit - paid if paid < limit else ZERO


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


class Fund:
    """A tier of the waterfall. Subclasses set ``kind`` and implement the rules."""

    kind: ClassVar[str]
    # Which aid classes a tier takes part for when the file does not say.
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = AID_CLASSES

    def __init__(self, table: Table, check: Checker, levels: tuple[int, ...]):
        self.code = table.string("code")
        if not all(ch.isalnum() or ch in "-_" for ch in self.code):
            raise table.error("code", "must contain only letters, digits, '-' and '_'")
        self.name = table.string("name")
        field = table.string("setlinfo_field")
        if field not in SETLINFO_FUND_FIELDS:
            raise table.error("setlinfo_field", f"must be one of {', '.join(SETLINFO_FUND_FIELDS)}")
        self.setlinfo_field: SetlinfoField = field
        visit_types = table.string_list("visit_types", list(VISIT_TYPES))
        for v in visit_types:
            if v not in VISIT_TYPES:
                raise table.error(
                    "visit_types", f"unknown visit type {v!r} (inpatient, outpatient)"
                )
        self.visit_types = cast(tuple[VisitType, ...], tuple(visit_types))
        classes = table.string_list("aid_classes", list(self.default_aid_classes))
        for c in classes:
            if c not in AID_CLASSES:
                raise table.error("aid_classes", f"unknown aid class {c!r} (key, assisted, none)")
        self.aid_classes = cast(tuple[AidClass, ...], tuple(classes))

    def totals_keys(self) -> tuple[str, ...]:
        """The running-total keys this tier reads and moves."""
        return (self.code,)

    def limit_state(
        self, aid_class: AidClass, totals: Mapping[str, Decimal], visit_type: VisitType
    ) -> tuple[str, Decimal, Decimal | None, Decimal | None]:
        """(totals key, paid this year, annual limit, still payable) for a person."""
        raise NotImplementedError

    def limits(self, aid_class: AidClass, totals: Mapping[str, Decimal]) -> list[FundLimit]:
        if aid_class not in self.aid_classes:
            return []
        _, paid, limit, left = self.limit_state(aid_class, totals, self.visit_types[0])
        return [FundLimit(self.code, self.name, paid, limit, left)]

    def apply(self, st: BillState) -> None:
        raise NotImplementedError

    def record(
        self,
        st: BillState,
        base: Decimal,
        left: Decimal | None,
        pay: Decimal,
        info: str,
        trace: dict[str, str],
        total_key: str,
        pay_out: Decimal = ZERO,
    ) -> None:
        """Record a payment; ``pay_out`` of it comes off the out-of-scope share, the rest off
        the in-scope share."""
        if pay_out:
            st.rem_in -= pay - pay_out
            st.rem_out -= pay_out
        else:
            st.rem_in -= pay
        st.pays[self.setlinfo_field] += pay
        if pay:
            st.deltas[total_key] = pay  # each tier owns its keys, so no key is set twice
        st.details.append(
            FundDetail(self.code, self.name, self.setlinfo_field, base, left, pay, info)
        )
        if left is not None:
            trace["limit_before"] = money(left)
        trace["fund_payamt"] = money(pay)
        st.trace.append(trace)


def _limit_text(
    left: Decimal | None, limit: Decimal | None, due: Decimal, pay: Decimal, word: str
) -> str:
    if limit is None or left is None:
        return ""
    text = f"；年度{word}{limit!s}元，本次前剩余{left!s}元"
    if pay < due:
        text += f"，已达年度{word}，实付{money(pay)}元"
    return text


class _BasicCase:
    """Basic-fund parameters for one visit type, hospital level and aid class, with the fixed
    parts of the cashier's line prepared at load time."""

    __slots__ = ("deductible", "deductible_text", "prefix", "ratio", "ratio_text")

    def __init__(
        self,
        visit_type: str,
        level: int,
        aid_class: str,
        full: Decimal,
        factor: Decimal,
        ratio: Decimal,
    ):
        self.deductible = fen(full * factor)
        self.ratio = ratio
        self.prefix = f"{VISIT_NAMES[visit_type]}·{level}级医院：政策范围内"
        text = ""
        if full:
            text = f"，起付线{money(self.deductible)}元"
            if self.deductible != full:
                text += f"（{CLASS_NAMES[aid_class]}，原{money(full)}元）"
        self.deductible_text = text
        self.ratio_text = f"按{pct(ratio)}支付"


class _BasicRule:
    __slots__ = ("annual_cap", "cases", "key")

    def __init__(
        self, key: str, cases: dict[tuple[int, AidClass], _BasicCase], annual_cap: Decimal | None
    ):
        self.key = key
        self.cases = cases
        self.annual_cap = annual_cap


class BasicFund(Fund):
    """Basic medical insurance (居民基本医疗保险统筹基金): a deductible per visit by hospital
    level (reduced by class), a ratio by level, an annual cap per visit type.

    Running total ``<code>.<visit_type>``: what the fund paid this year for that visit type."""

    kind = "basic"

    def __init__(self, table: Table, check: Checker, levels: tuple[int, ...]):
        super().__init__(table, check, levels)
        self.rules: dict[str, _BasicRule] = {}
        for visit_type in self.visit_types:
            sub = table.table(visit_type)
            full = check.per_level(
                sub.raw("deductible", 0), sub.key("deductible"), levels, check.money
            )
            factor = check.per_class(
                sub.raw("deductible_factor", 1),
                sub.key("deductible_factor"),
                AID_CLASSES,
                check.ratio,
                fallback=Decimal(1),
            )
            ratio = check.per_level(sub.raw("ratio"), sub.key("ratio"), levels, check.ratio)
            cap_value = sub.raw("annual_cap", None)
            cap = None if cap_value is None else check.money(cap_value, sub.key("annual_cap"))
            sub.finish()
            cases = {
                (lv, c): _BasicCase(visit_type, lv, c, full[lv], factor[c], ratio[lv])
                for lv in levels
                for c in AID_CLASSES
            }
            self.rules[visit_type] = _BasicRule(f"{self.code}.{visit_type}", cases, cap)
        for visit_type in VISIT_TYPES:
            if visit_type not in self.visit_types and table.has(visit_type):
                raise table.error(visit_type, "visit type not listed in visit_types")

    def totals_keys(self) -> tuple[str, ...]:
        return tuple(rule.key for rule in self.rules.values())

    def limit_state(
        self, aid_class: AidClass, totals: Mapping[str, Decimal], visit_type: VisitType
    ) -> tuple[str, Decimal, Decimal | None, Decimal | None]:
        rule = self.rules[visit_type]
        paid = running_total(totals, rule.key)
        return rule.key, paid, rule.annual_cap, headroom(rule.annual_cap, paid)

    def limits(self, aid_class: AidClass, totals: Mapping[str, Decimal]) -> list[FundLimit]:
        if aid_class not in self.aid_classes:
            return []
        out = []
        for visit_type in self.visit_types:
            _, paid, cap, left = self.limit_state(aid_class, totals, visit_type)
            out.append(FundLimit(self.code, self.name, paid, cap, left, visit_type))
        return out

    def apply(self, st: BillState) -> None:
        if st.aid_class not in self.aid_classes:
            return
        case = self.rules[st.visit_type].cases[st.level, st.aid_class]
        key, _, cap, left = self.limit_state(st.aid_class, st.totals, st.visit_type)
        base = st.rem_in
        deductible = case.deductible
        applied = deductible if deductible < base else base
        above = base - applied
        due = (above * case.ratio).quantize(FEN, ROUND_HALF_UP)
        pay = due if left is None or due <= left else left
        st.act_pay_dedc += applied

        base_s, due_s = money(base), money(due)
        info = f"{case.prefix}{base_s}元{case.deductible_text}"
        if not deductible:
            info = f"{info}，{case.ratio_text}{due_s}元"
        elif above:
            info = f"{info}，超出部分{money(above)}元{case.ratio_text}{due_s}元"
        else:
            info += "，未超过起付线"
        if cap is not None:
            info += _limit_text(left, cap, due, pay, "封顶线")
        trace = {
            "step": "basic",
            "fund_pay_type": self.code,
            "base": base_s,
            "deductible": money(deductible),
            "act_pay_dedc": money(applied),
            "ratio": str(case.ratio),
            "computed": due_s,
        }
        self.record(st, base, left, pay, info, trace, key)


class _Band:
    __slots__ = ("label", "lower", "ratio", "start", "upper")

    def __init__(self, lower: Decimal, upper: Decimal | None, ratio: Decimal, start: Decimal):
        self.lower = lower
        self.upper = upper
        self.ratio = ratio
        self.start = start  # unrounded amount payable for everything below ``lower``
        upper_text = "以上" if upper is None else f"–{money(upper)}"
        self.label = f"{money(lower)}{upper_text}元段{pct(ratio)}"


class CriticalIllnessFund(Fund):
    """Critical-illness insurance (居民大病保险): banded ratios on the year's cumulative base
    above a threshold, with an annual cap. Pays F(base after) − F(base before).

    Running totals ``<code>.base`` (in-scope amount left after the tiers before it, summed over
    the year's bills of its visit types, for every class) and ``<code>`` (paid this year)."""

    kind = "critical_illness"

    def __init__(self, table: Table, check: Checker, levels: tuple[int, ...]):
        super().__init__(table, check, levels)
        classes = self.aid_classes
        self.threshold = check.per_class(
            table.raw("threshold"), table.key("threshold"), classes, check.money
        )
        cap_value = table.raw("annual_cap", None)
        self.annual_cap: dict[AidClass, Decimal | None] = (
            dict.fromkeys(classes)
            if cap_value is None
            else dict(check.per_class(cap_value, table.key("annual_cap"), classes, check.money))
        )
        bands_value = table.raw("bands")
        if not isinstance(bands_value, list) or not bands_value:
            raise table.error("bands", "must be a non-empty array of tables ([[funds.bands]])")
        self.bands: dict[AidClass, list[_Band]] = {c: [] for c in classes}
        self.band_edges: list[tuple[Decimal, Decimal | None]] = []
        lower = ZERO
        for i, band_value in enumerate(bands_value):
            band = Table(band_value, f"{table.key('bands')}[{i}]", table.source)
            up_value = band.raw("up_to", None)
            upper = None if up_value is None else check.money(up_value, band.key("up_to"))
            if upper is None and i != len(bands_value) - 1:
                raise band.error("up_to", "missing (only the last band may be open-ended)")
            if upper is not None and upper <= lower:
                raise band.error("up_to", "must be above the previous band's up_to")
            ratios = check.per_class(band.raw("ratio"), band.key("ratio"), classes, check.ratio)
            band.finish()
            for c in classes:
                previous = self.bands[c][-1] if self.bands[c] else None
                start = (
                    ZERO
                    if previous is None
                    else previous.start + (lower - previous.lower) * previous.ratio
                )
                self.bands[c].append(_Band(lower, upper, ratios[c], start))
            self.band_edges.append((lower, upper))
            if upper is not None:
                lower = upper
        self.base_key = f"{self.code}.base"
        self.info_prefix = {c: f"大病保险（{CLASS_NAMES[c]}）：本次计入" for c in classes}
        self.threshold_text = {c: f"，起付线{money(self.threshold[c])}元" for c in classes}

    def totals_keys(self) -> tuple[str, ...]:
        return (self.base_key, self.code)

    def payable(self, aid_class: AidClass, base_total: Decimal) -> Decimal:
        """F: what the fund owes for a year's cumulative base, rounded to the fen and capped."""
        over = base_total - self.threshold[aid_class]
        if over <= 0:
            return ZERO
        raw = ZERO
        for band in self.bands[aid_class]:
            if band.upper is None or over <= band.upper:
                raw = band.start + (over - band.lower) * band.ratio
                break
            raw = band.start + (band.upper - band.lower) * band.ratio
        due = fen(raw)
        cap = self.annual_cap[aid_class]
        return due if cap is None or due <= cap else cap

    def limit_state(
        self, aid_class: AidClass, totals: Mapping[str, Decimal], visit_type: VisitType
    ) -> tuple[str, Decimal, Decimal | None, Decimal | None]:
        paid = running_total(totals, self.code)
        cap = self.annual_cap[aid_class]
        return self.code, paid, cap, headroom(cap, paid)

    def _bands_text(self, aid_class: AidClass, before: Decimal, after: Decimal) -> str:
        threshold = self.threshold[aid_class]
        lo, hi = before - threshold, after - threshold
        parts = []
        for band in self.bands[aid_class]:
            if hi <= band.lower or (band.upper is not None and lo >= band.upper):
                continue
            parts.append(band.label)
        return "、".join(parts)

    def apply(self, st: BillState) -> None:
        base = st.rem_in
        before = running_total(st.totals, self.base_key)
        after = before + base
        if base:
            st.deltas[self.base_key] = base
        aid_class = st.aid_class
        if aid_class not in self.aid_classes:
            return
        key, _, cap, left = self.limit_state(aid_class, st.totals, st.visit_type)
        threshold = self.threshold[aid_class]
        due = ZERO
        if after > threshold:
            due = self.payable(aid_class, after) - self.payable(aid_class, before)
        pay = due
        if left is not None and pay > left:
            pay = left
        if pay > base:  # cannot happen with ratios ≤ 1; kept as a guard for the invariants
            pay = base
        base_s, before_s, after_s, due_s = money(base), money(before), money(after), money(due)
        info = f"{self.info_prefix[aid_class]}{base_s}元，年度累计{before_s}→{after_s}元"
        if after <= threshold:
            info = f"{info}{self.threshold_text[aid_class]}，未超过起付线"
        else:
            bands = self._bands_text(aid_class, max(before, threshold), after)
            info = (
                f"{info}{self.threshold_text[aid_class]}，超出部分按{bands}，"
                f"按累计计算本次支付{due_s}元"
            )
        if cap is not None:
            info += _limit_text(left, cap, due, pay, "封顶线")
        trace = {
            "step": "critical_illness",
            "fund_pay_type": self.code,
            "base": base_s,
            "base_before": before_s,
            "base_after": after_s,
            "threshold": money(threshold),
            "computed": due_s,
        }
        self.record(st, base, left, pay, info, trace, key)


class MedicalAssistanceFund(Fund):
    """Medical assistance (医疗救助): a ratio by aid class of the in-scope amount still on the
    patient, optionally a ratio of the out-of-scope amount, inside an annual limit by class.

    Running total ``<code>``: paid this year."""

    kind = "medical_assistance"
    default_aid_classes = ("key", "assisted")

    def __init__(self, table: Table, check: Checker, levels: tuple[int, ...]):
        super().__init__(table, check, levels)
        classes = self.aid_classes
        self.ratio = check.per_class(table.raw("ratio"), table.key("ratio"), classes, check.ratio)
        self.out_of_scope_ratio = check.per_class(
            table.raw("out_of_scope_ratio", 0),
            table.key("out_of_scope_ratio"),
            classes,
            check.ratio,
            fallback=ZERO,
        )
        limit_value = table.raw("annual_limit", None)
        self.annual_limit: dict[AidClass, Decimal | None] = (
            dict.fromkeys(classes)
            if limit_value is None
            else dict(check.per_class(limit_value, table.key("annual_limit"), classes, check.money))
        )
        self.info_prefix = {
            c: f"医疗救助（{CLASS_NAMES[c]}）：个人负担的政策范围内" for c in classes
        }

    def limit_state(
        self, aid_class: AidClass, totals: Mapping[str, Decimal], visit_type: VisitType
    ) -> tuple[str, Decimal, Decimal | None, Decimal | None]:
        paid = running_total(totals, self.code)
        limit = self.annual_limit[aid_class]
        return self.code, paid, limit, headroom(limit, paid)

    def apply(self, st: BillState) -> None:
        aid_class = st.aid_class
        if aid_class not in self.aid_classes:
            return
        key, _, limit, left = self.limit_state(aid_class, st.totals, st.visit_type)
        base = st.rem_in
        ratio = self.ratio[aid_class]
        due_in = (base * ratio).quantize(FEN, ROUND_HALF_UP)
        out_ratio = self.out_of_scope_ratio[aid_class]
        base_out = st.rem_out
        due_out = fen(base_out * out_ratio) if out_ratio else ZERO
        due = due_in + due_out
        pay = due if left is None or due <= left else left
        pay_in = due_in if due_in <= pay else pay
        pay_out = pay - pay_in
        base_s = money(base)
        info = f"{self.info_prefix[aid_class]}{base_s}元按{pct(ratio)}救助{due_in!s}元"
        if out_ratio:
            info += f"，政策范围外{money(base_out)}元按{pct(out_ratio)}救助{money(due_out)}元"
        if limit is not None:
            info += _limit_text(left, limit, due, pay, "救助限额")
        trace = {
            "step": "medical_assistance",
            "fund_pay_type": self.code,
            "base": base_s,
            "ratio": str(ratio),
            "computed": money(due),
        }
        if out_ratio:
            trace["base_out_of_scope"] = money(base_out)
            trace["out_of_scope_ratio"] = str(out_ratio)
        self.record(st, base, left, pay, info, trace, key, pay_out)


class BottomLineFund(Fund):
    """Government bottom-line fund (政府兜底): once the patient's in-scope cash payments in the
    year exceed a threshold, pays the excess (inside an optional annual limit).

    Running totals ``<code>.cash_base`` (in-scope amount left on the patient after the tiers
    before it, summed over the year's bills of its visit types, for every class) and ``<code>``
    (paid this year)."""

    kind = "bottom_line"
    default_aid_classes = ("key",)

    def __init__(self, table: Table, check: Checker, levels: tuple[int, ...]):
        super().__init__(table, check, levels)
        classes = self.aid_classes
        self.threshold = check.per_class(
            table.raw("threshold"), table.key("threshold"), classes, check.money
        )
        limit_value = table.raw("annual_limit", None)
        self.annual_limit: dict[AidClass, Decimal | None] = (
            dict.fromkeys(classes)
            if limit_value is None
            else dict(check.per_class(limit_value, table.key("annual_limit"), classes, check.money))
        )
        self.base_key = f"{self.code}.cash_base"
        self.info_prefix = {
            c: f"政府兜底（{CLASS_NAMES[c]}）：年度政策范围内个人负担累计" for c in classes
        }
        self.threshold_text = {c: f"，兜底线{money(self.threshold[c])}元" for c in classes}

    def totals_keys(self) -> tuple[str, ...]:
        return (self.base_key, self.code)

    def limit_state(
        self, aid_class: AidClass, totals: Mapping[str, Decimal], visit_type: VisitType
    ) -> tuple[str, Decimal, Decimal | None, Decimal | None]:
        paid = running_total(totals, self.code)
        limit = self.annual_limit[aid_class]
        return self.code, paid, limit, headroom(limit, paid)

    def apply(self, st: BillState) -> None:
        base = st.rem_in
        before = running_total(st.totals, self.base_key)
        after = before + base
        if base:
            st.deltas[self.base_key] = base
        aid_class = st.aid_class
        if aid_class not in self.aid_classes:
            return
        key, _, limit, left = self.limit_state(aid_class, st.totals, st.visit_type)
        threshold = self.threshold[aid_class]
        due = ZERO
        if after > threshold:
            due = after - threshold if before <= threshold else base
        pay = due if left is None or due <= left else left
        before_s, after_s, due_s = money(before), money(after), money(due)
        info = f"{self.info_prefix[aid_class]}{before_s}→{after_s}元"
        info += self.threshold_text[aid_class]
        info += f"，超出部分支付{due_s}元" if due else "，未超过兜底线"
        if limit is not None:
            info += _limit_text(left, limit, due, pay, "兜底限额")
        trace = {
            "step": "bottom_line",
            "fund_pay_type": self.code,
            "base": money(base),
            "cash_before": before_s,
            "cash_after": after_s,
            "threshold": money(threshold),
            "computed": due_s,
        }
        self.record(st, base, left, pay, info, trace, key)


FUND_KINDS: dict[str, Callable[[Table, Checker, tuple[int, ...]], Fund]] = {
    cls.kind: cls for cls in (BasicFund, CriticalIllnessFund, MedicalAssistanceFund, BottomLineFund)
}
