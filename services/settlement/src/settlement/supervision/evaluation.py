"""Evaluating the per-bill supervision rules (pure: values in, findings out).

The service gathers, inside the settle's transaction, what the rules look at — the bill
being settled (:class:`SettleFacts`), the person's other settled bills around its dates
(:class:`OtherBill`, one indexed read) and the medians refreshed in the background
(:class:`Median`) — and :func:`evaluate` returns at most one :class:`Finding` per rule. A
finding's ``message`` is for the hospital that owns the bill: it never names another
hospital or another hospital's bill (those are in ``detail``, for administrators).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from settlement.engine.scope import item_amount
from settlement.engine.vocabulary import VISIT_TYPE_LABELS
from settlement.supervision.rules import (
    OutlierRule,
    QuantityRule,
    ReadmissionRule,
    Rule,
    RuleSet,
    SameDayRule,
)


class FeeLine(Protocol):
    """A fee line as the request (``FeeItemIn``) or the engine (``FeeItem``) holds it: the
    rules read it as it is, without a copy; its place in ``lines`` is ``items[index]``."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def amount(self) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class Line:
    """A fee line of its own (tests, tools): code, name, unit price, quantity and the amount
    when given."""

    code: str
    name: str
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal | None = None


def line_amount(line: FeeLine) -> Decimal:
    """The line's amount: as given, else unit price × quantity to the fen (the engine's
    item-amount rule)."""
    given = line.amount
    return given if given is not None else item_amount(line.unit_price, line.quantity)


@dataclass(frozen=True, slots=True)
class SettleFacts:
    """The bill being settled. ``lines``: its own fee lines; ``stay_lines``: every line of
    the stay so far (earlier interim parts and this one); ``first_part``: no earlier part of
    the stay is settled."""

    setl_id: str
    hospital_id: int
    hospital_level: int
    visit_id: str
    visit_type: str
    admitted_on: date
    discharged_on: date
    diagnoses: tuple[str, ...]
    first_part: bool
    lines: Sequence[FeeLine]
    stay_lines: Sequence[FeeLine]
    medfee_sumamt: Decimal


@dataclass(frozen=True, slots=True)
class OtherBill:
    """Another settled (not revoked) bill of the same person."""

    setl_id: str
    hospital_id: int
    visit_id: str
    visit_type: str
    admitted_on: date
    discharged_on: date
    diagnoses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Median:
    """The median amount of a group (yuan, to the fen) and how many samples made it."""

    median: Decimal
    samples: int


class Medians:
    """The medians the outlier rules read, by group: per hospital level the item codes'
    (``items[level][code]``), per visit type and level the bills' (``bills[(type, level)]``)."""

    __slots__ = ("bills", "items")

    def __init__(self, groups: Mapping[tuple[str, str, int], Median] | None = None) -> None:
        self.items: dict[int, dict[str, Median]] = {}
        self.bills: dict[tuple[str, int], Median] = {}
        for (kind, key, level), median in (groups or {}).items():
            if kind == "item":
                self.items.setdefault(level, {})[key] = median
            else:
                self.bills[(key, level)] = median

    def get(self, key: tuple[str, str, int]) -> Median | None:
        """``("item", code, level)`` or ``("bill", visit type, level)``."""
        kind, name, level = key
        if kind == "item":
            return self.items.get(level, {}).get(name)
        return self.bills.get((name, level))


HALF_FEN = Decimal("0.005")
MAX_DETAIL = 5
"""A flag's ``detail`` lists at most this many related bills or items (the closest first);
``…_count`` says how many there were."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that fires on the bill: the request field it is about, a sentence for the
    hospital and the facts for administrators."""

    rule: Rule
    field: str
    message: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


def _num(value: Decimal) -> str:
    """A quantity or multiple without trailing zeros (``10``, ``2.5``)."""
    text = f"{value.normalize():f}"
    return text


@dataclass(frozen=True, slots=True)
class History:
    """Which of the person's other bills the rules need: settled bills of ``visit_type``
    whose stay touches ``[since, until]`` and, for readmissions, whose main diagnosis begins
    with ``diagnosis`` (``None``: any)."""

    since: date
    until: date
    visit_type: str
    diagnosis: str | None


def history_window(rules: RuleSet, facts: SettleFacts) -> History | None:
    """What the person's other bills must be to matter to the rules (``None``: no rule needs
    them): inpatient stays with the same main diagnosis category, ``window_days`` either side
    of an inpatient stay; outpatient bills of the visit's day for an outpatient bill."""
    if facts.visit_type == "inpatient":
        days = rules.readmission_days
        if days is None or not facts.first_part or not facts.diagnoses:
            return None
        return History(
            facts.admitted_on - timedelta(days=days),
            facts.discharged_on + timedelta(days=days),
            "inpatient",
            facts.diagnoses[0][: rules.readmission_chars],
        )
    if rules.same_day:
        return History(facts.admitted_on, facts.admitted_on, "outpatient", None)
    return None


def quantity_beyond_stay(rule: QuantityRule, facts: SettleFacts) -> Finding | None:
    """Per-day items whose quantity over the stay exceeds its length + ``extra_days``.
    Length of stay: discharge date − admission date, in days."""
    if facts.visit_type != "inpatient":
        return None
    stay_days = (facts.discharged_on - facts.admitted_on).days
    allowed = Decimal(stay_days + rule.extra_days)
    totals: dict[str, Decimal] = {}
    names: dict[str, str] = {}
    for line in facts.stay_lines:
        code = line.code
        if rule.matches(code, line.name):
            totals[code] = totals.get(code, Decimal(0)) + line.quantity
            names.setdefault(code, line.name)
    over = [(code, qty) for code, qty in totals.items() if qty > allowed]
    if not over:
        return None
    code, quantity = over[0]
    place = next((i for i, line in enumerate(facts.lines) if line.code == code), None)
    more = f"等 {len(over)} 项" if len(over) > 1 else ""
    return Finding(
        rule,
        f"items[{place}].quantity" if place is not None else "items",
        f"{names[code]}（{code}）{more}计费数量 {_num(quantity)}，住院 {stay_days} 天"
        f"（{facts.admitted_on.isoformat()} 至 {facts.discharged_on.isoformat()}），"
        f"超过住院天数 + {rule.extra_days}",
        {
            "stay_days": stay_days,
            "allowed": _num(allowed),
            "items": [{"code": c, "name": names[c], "quantity": _num(q)} for c, q in sorted(over)],
        },
    )


def _stays(others: Iterable[OtherBill]) -> list[OtherBill]:
    """Inpatient bills grouped by stay (interim parts share a visit): one entry per stay,
    spanning its first admission and last discharge."""
    stays: dict[tuple[int, str], OtherBill] = {}
    for bill in others:
        if bill.visit_type != "inpatient":
            continue
        key = (bill.hospital_id, bill.visit_id)
        known = stays.get(key)
        if known is None or bill.discharged_on > known.discharged_on:
            stays[key] = bill
    return list(stays.values())


def readmission(
    rule: ReadmissionRule, facts: SettleFacts, others: Sequence[OtherBill]
) -> Finding | None:
    """Another stay with the same main diagnosis (first ``diagnosis_chars`` characters of the
    first diagnosis) discharged at most ``window_days`` before this admission, or admitted at
    most ``window_days`` after this discharge (a stay settled late). Checked on a stay's first
    part only. A gap of 0 days at another hospital is a transfer (flagged only with
    ``transfers``)."""
    if facts.visit_type != "inpatient" or not facts.first_part or not facts.diagnoses:
        return None
    main = facts.diagnoses[0][: rule.diagnosis_chars]
    hits: list[tuple[int, str, OtherBill]] = []
    for stay in _stays(others):
        if (stay.hospital_id, stay.visit_id) == (facts.hospital_id, facts.visit_id):
            continue
        if not stay.diagnoses or stay.diagnoses[0][: rule.diagnosis_chars] != main:
            continue
        before = (facts.admitted_on - stay.discharged_on).days
        after = (stay.admitted_on - facts.discharged_on).days
        if 0 <= before <= rule.window_days:
            gap, direction = before, "before"
        elif 0 <= after <= rule.window_days:
            gap, direction = after, "after"
        else:
            continue
        if gap == 0 and stay.hospital_id != facts.hospital_id and not rule.transfers:
            continue  # a transfer: discharged and admitted elsewhere the same day
        hits.append((gap, direction, stay))
    if not hits:
        return None
    hits.sort(key=lambda h: (h[0], h[2].setl_id))
    gap, direction, stay = hits[0]
    where = "本院" if stay.hospital_id == facts.hospital_id else "其他定点医疗机构"
    if direction == "before":
        text = (
            f"主诊断 {main} 与 {stay.discharged_on.isoformat()} 在{where}出院的住院相同，"
            f"出院后 {gap} 天再次入院（{rule.window_days} 天内）"
        )
    else:
        text = (
            f"主诊断 {main} 与 {stay.admitted_on.isoformat()} 在{where}入院的住院相同，"
            f"本次出院后 {gap} 天即再次入院（{rule.window_days} 天内）"
        )
    return Finding(
        rule,
        "visit.admitted_on" if direction == "before" else "visit.discharged_on",
        text,
        {
            "diagnosis": main,
            "window_days": rule.window_days,
            "stay_count": len(hits),
            "stays": [
                {
                    "setl_id": s.setl_id,
                    "hospital_id": s.hospital_id,
                    "visit_id": s.visit_id,
                    "admitted_on": s.admitted_on.isoformat(),
                    "discharged_on": s.discharged_on.isoformat(),
                    "gap_days": g,
                    "direction": d,
                }
                for g, d, s in hits[:MAX_DETAIL]
            ],
        },
    )


def same_day_outpatient(
    rule: SameDayRule, facts: SettleFacts, others: Sequence[OtherBill]
) -> Finding | None:
    """The person's outpatient bills of this visit's day, this one included: at
    ``min_hospitals`` or more hospitals and more than ``max_bills`` of them."""
    if facts.visit_type != "outpatient":
        return None
    day = facts.admitted_on
    same = [b for b in others if b.visit_type == "outpatient" and b.admitted_on == day]
    hospitals = {facts.hospital_id, *(b.hospital_id for b in same)}
    count = len(same) + 1
    if len(hospitals) < rule.min_hospitals or count <= rule.max_bills:
        return None
    return Finding(
        rule,
        "visit.admitted_on",
        f"{day.isoformat()} 同日在 {len(hospitals)} 家定点医疗机构门诊结算 {count} 次"
        f"（超过 {rule.max_bills} 次）",
        {
            "day": day.isoformat(),
            "hospitals": len(hospitals),
            "bills": count,
            "others": [
                {"setl_id": b.setl_id, "hospital_id": b.hospital_id} for b in same[:MAX_DETAIL]
            ],
        },
    )


def item_outlier(rule: OutlierRule, facts: SettleFacts, stats: Medians) -> Finding | None:
    """Lines whose amount is above ``multiple`` × the median of their code at hospitals of
    this level (only medians made of ``min_samples`` or more)."""
    over: list[tuple[int, FeeLine, Decimal, Median]] = []
    by_code = stats.items.get(facts.hospital_level)
    if not by_code:
        return None
    for index, line in enumerate(facts.lines):
        median = by_code.get(line.code)
        if median is None or median.samples < rule.min_samples or median.median <= 0:
            continue
        limit = rule.multiple * median.median
        given = line.amount
        if given is None and line.unit_price * line.quantity <= limit - HALF_FEN:
            continue  # rounding to the fen cannot lift it above the limit
        amount = given if given is not None else line_amount(line)
        if amount > limit:
            over.append((index, line, amount, median))
    if not over:
        return None
    index, line, amount, median = over[0]
    more = f"等 {len(over)} 项" if len(over) > 1 else ""
    return Finding(
        rule,
        f"items[{index}].amount",
        f"{line.name}（{line.code}）{more}金额 {amount} 元，超过近 {rule.window_days} 天"
        f"同级医院中位数 {median.median} 元的 {_num(rule.multiple)} 倍",
        {
            "multiple": _num(rule.multiple),
            "item_count": len(over),
            "items": [
                {
                    "index": i,
                    "code": item.code,
                    "amount": str(a),
                    "median": str(m.median),
                    "samples": m.samples,
                }
                for i, item, a, m in over[:MAX_DETAIL]
            ],
        },
    )


def bill_outlier(rule: OutlierRule, facts: SettleFacts, stats: Medians) -> Finding | None:
    """The bill's ``medfee_sumamt`` above ``multiple`` × the median for its visit type at
    hospitals of this level."""
    median = stats.bills.get((facts.visit_type, facts.hospital_level))
    if (
        median is None
        or median.samples < rule.min_samples
        or median.median <= 0
        or facts.medfee_sumamt <= rule.multiple * median.median
    ):
        return None
    label = VISIT_TYPE_LABELS.get(facts.visit_type, facts.visit_type)
    return Finding(
        rule,
        "items",
        f"医疗费用总额 {facts.medfee_sumamt} 元，超过近 {rule.window_days} 天同级医院{label}"
        f"中位数 {median.median} 元的 {_num(rule.multiple)} 倍",
        {
            "medfee_sumamt": str(facts.medfee_sumamt),
            "median": str(median.median),
            "samples": median.samples,
            "multiple": _num(rule.multiple),
        },
    )


def evaluate(
    rules: RuleSet,
    facts: SettleFacts,
    others: Sequence[OtherBill],
    stats: Medians,
) -> list[Finding]:
    """Every enabled per-bill rule on the bill, in file order: at most one finding each."""
    found: list[Finding] = []
    for rule in rules.per_bill_rules:
        result: Finding | None = None
        if isinstance(rule, QuantityRule):
            result = quantity_beyond_stay(rule, facts)
        elif isinstance(rule, ReadmissionRule):
            result = readmission(rule, facts, others)
        elif isinstance(rule, SameDayRule):
            result = same_day_outpatient(rule, facts, others)
        elif isinstance(rule, OutlierRule):
            result = (
                item_outlier(rule, facts, stats)
                if rule.scope == "item"
                else bill_outlier(rule, facts, stats)
            )
        if result is not None:
            found.append(result)
    return found
