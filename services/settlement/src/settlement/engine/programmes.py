"""Disease programmes (专项救治): which visits they cover and what they change, read from the
policy's ``[[programmes]]`` tables.

A programme matches a visit by ICD-10 code prefixes of its diagnoses, optionally by the
patient's aid class, visit type and age on the admission date. The first programme in file
order that matches applies. It can

- cap the patient's in-scope share: ``patient_share_max`` of the bill's in-scope amount, or
  a case price (单病种定额: ``case_price`` and ``case_patient_share``, the patient paying that
  share of the case price); its ``fund`` (a ``disease_programme`` tier) pays the rest of the
  in-scope amount still on the patient at its place in the waterfall;
- adjust a tier's parameters for the visit (``[programmes.adjust.<fund code>]``: a basic
  fund's ``deductible`` / ``ratio``, a threshold, a ratio, …). The adjusted tiers are built
  here once, when the policy is read.

Only reading, validation and matching live here; the payment is ``rules.disease_programme``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import cast

from shared.money import fen

from . import icd
from .params import (
    BasicTier,
    BottomLineTier,
    CriticalIllnessTier,
    DiseaseProgrammeTier,
    GradedAssistanceTier,
    MedicalAssistanceTier,
    SecondaryAssistanceTier,
    SupplementaryTier,
    Tier,
    basic_cases,
    class_key,
    guard_key_ratio,
    read_prefixes,
)
from .reader import Checker, Table
from .types import AID_CLASSES, VISIT_TYPES, AidClass, VisitType


@dataclass(frozen=True, slots=True, eq=False)
class Programme:
    """One disease programme (专项救治), e.g. 光明工程 (cataract) or the children's leukaemia
    programme of 大病专项救治. ``prefixes`` are normalised ICD-10 prefixes; ages are in full
    years on the admission date (``age_at_least`` inclusive, ``age_under`` exclusive).
    ``adjusted``: the tiers it changes, by fund code, as they apply to its visits;
    ``adjust_note``: what the cashier's line of such a tier adds."""

    index: int
    name: str
    prefixes: tuple[str, ...]
    aid_classes: tuple[AidClass, ...]
    visit_types: tuple[VisitType, ...]
    age_at_least: int | None
    age_under: int | None
    fund: str | None
    patient_share_max: Decimal | None
    case_price: Decimal | None
    case_patient_share: Decimal | None
    adjusted: Mapping[str, Tier]
    adjust_note: Mapping[str, str]

    def matches(
        self, visit_type: VisitType, aid_class: AidClass, age: int | None, codes: tuple[str, ...]
    ) -> int | None:
        """The index of the visit's diagnosis that brings it under the programme, or None."""
        if visit_type not in self.visit_types or aid_class not in self.aid_classes:
            return None
        if self.age_at_least is not None or self.age_under is not None:
            if age is None:
                return None
            if self.age_at_least is not None and age < self.age_at_least:
                return None
            if self.age_under is not None and age >= self.age_under:
                return None
        return icd.first_match(self.prefixes, codes)

    def patient_part(self, inscp_scp_amt: Decimal) -> Decimal:
        """The most the patient pays of the bill's in-scope amount, rounded to the fen:
        ``patient_share_max × in-scope amount``, or ``case_patient_share × case_price``."""
        if self.case_price is not None and self.case_patient_share is not None:
            return fen(self.case_price * self.case_patient_share)
        assert self.patient_share_max is not None
        return fen(inscp_scp_amt * self.patient_share_max)


# Adjustments --------------------------------------------------------------------------------


def _per_class(
    check: Checker,
    table: Table,
    name: str,
    classes: tuple[AidClass, ...],
    convert: Callable[[object, str], Decimal],
    current: Mapping[AidClass, Decimal],
) -> dict[AidClass, Decimal]:
    """A per-class value of an adjustment; a class it does not name keeps ``current``."""
    value = table.raw(name)
    key = table.key(name)
    if not isinstance(value, Mapping):
        return dict.fromkeys(classes, convert(value, key))
    for cls in value:
        if cls != "default" and cls not in AID_CLASSES:
            raise check.error(f"{key}.{cls}", "unknown aid class (key, assisted, none, default)")
    default = convert(value["default"], f"{key}.default") if "default" in value else None
    out: dict[AidClass, Decimal] = {}
    for c in classes:
        if c in value:
            out[c] = convert(value[c], f"{key}.{c}")
        else:
            out[c] = default if default is not None else current[c]
    return out


def _adjust_basic(tier: Tier, table: Table, check: Checker, levels: tuple[int, ...]) -> Tier:
    basic = cast(BasicTier, tier)
    visits = {}
    for visit_type, visit in basic.visits.items():
        any_case = next(iter(visit.cases.values()))
        full = {lv: visit.cases[lv, any_case.aid_class].full_deductible for lv in levels}
        ratio = {lv: visit.cases[lv, any_case.aid_class].ratio for lv in levels}
        if table.has("deductible"):
            full = check.per_level(
                table.raw("deductible"), table.key("deductible"), levels, check.money
            )
        if table.has("ratio"):
            ratio = check.per_level(table.raw("ratio"), table.key("ratio"), levels, check.ratio)
        cases = basic_cases(visit_type, levels, full, visit.deductible_factor, ratio)
        visits[visit_type] = replace(visit, cases=cases)
    return replace(basic, visits=visits)


def _adjust_threshold(tier: Tier, table: Table, check: Checker, levels: tuple[int, ...]) -> Tier:
    cumulative = cast(CriticalIllnessTier | GradedAssistanceTier | BottomLineTier, tier)
    threshold = _per_class(
        check, table, "threshold", tier.aid_classes, check.money, cumulative.threshold
    )
    return replace(cumulative, threshold=threshold)


def _adjust_ratio(
    tier: Tier, table: Table, check: Checker, what: str
) -> dict[AidClass, Decimal] | None:
    current = cast(MedicalAssistanceTier | SecondaryAssistanceTier | SupplementaryTier, tier)
    if not table.has("ratio"):
        return None
    ratio = _per_class(check, table, "ratio", tier.aid_classes, check.ratio, current.ratio)
    if what:
        guard_key_ratio(check, class_key(table, "ratio", "key"), ratio, what)
    return ratio


def _adjust_medical_assistance(
    tier: Tier, table: Table, check: Checker, levels: tuple[int, ...]
) -> Tier:
    ratio = _adjust_ratio(tier, table, check, "medical-assistance")
    return tier if ratio is None else replace(cast(MedicalAssistanceTier, tier), ratio=ratio)


def _adjust_secondary(tier: Tier, table: Table, check: Checker, levels: tuple[int, ...]) -> Tier:
    secondary = cast(SecondaryAssistanceTier, tier)
    ratio = _adjust_ratio(tier, table, check, "secondary-assistance")
    if ratio is not None:
        secondary = replace(secondary, ratio=ratio)
    if table.has("threshold"):
        secondary = cast(
            SecondaryAssistanceTier, _adjust_threshold(secondary, table, check, levels)
        )
    return secondary


def _adjust_supplementary(
    tier: Tier, table: Table, check: Checker, levels: tuple[int, ...]
) -> Tier:
    supplementary = cast(SupplementaryTier, tier)
    ratio = _adjust_ratio(tier, table, check, "")
    if ratio is not None:
        supplementary = replace(supplementary, ratio=ratio)
    if table.has("deductible"):
        deductible = _per_class(
            check, table, "deductible", tier.aid_classes, check.money, supplementary.deductible
        )
        supplementary = replace(supplementary, deductible=deductible)
    return supplementary


Adjuster = Callable[[Tier, Table, Checker, tuple[int, ...]], Tier]

ADJUSTABLE: dict[str, tuple[tuple[str, ...], Adjuster]] = {
    "basic": (("deductible", "ratio"), _adjust_basic),
    "critical_illness": (("threshold",), _adjust_threshold),
    "graded_assistance": (("threshold",), _adjust_threshold),
    "bottom_line": (("threshold",), _adjust_threshold),
    "medical_assistance": (("ratio",), _adjust_medical_assistance),
    "secondary_assistance": (("threshold", "ratio"), _adjust_secondary),
    "supplementary": (("deductible", "ratio"), _adjust_supplementary),
}
"""The kinds a programme may adjust, the keys it may set and how the tier is rebuilt.
Basic: a per-level ``deductible`` (the class factor still applies) and ``ratio``; the others
per-class values (a class not named keeps its value)."""

_NOTE_WORDS = {"deductible": "起付线", "ratio": "支付比例", "threshold": "起付线"}


def _adjustments(
    prog: Table, check: Checker, tiers: Mapping[str, Tier], levels: tuple[int, ...]
) -> tuple[dict[str, Tier], dict[str, str]]:
    adjusted: dict[str, Tier] = {}
    notes: dict[str, str] = {}
    if not prog.has("adjust"):
        return adjusted, notes
    adjust = prog.table("adjust")
    for code in adjust.data:
        sub = adjust.table(code)
        tier = tiers.get(code)
        if tier is None:
            raise adjust.error(code, "no fund of the policy has this code")
        allowed = ADJUSTABLE.get(tier.kind)
        if allowed is None:
            raise adjust.error(
                code, f"a fund of kind {tier.kind} cannot be adjusted by a programme"
            )
        names, adjuster = allowed
        given = [n for n in names if sub.has(n)]
        if not given:
            raise sub.error(None, f"must set at least one of {', '.join(names)}")
        adjusted[code] = adjuster(tier, sub, check, levels)
        sub.finish()
        notes[code] = "、".join(_NOTE_WORDS[n] for n in given)
    adjust.finish()
    return adjusted, notes


# Reading ------------------------------------------------------------------------------------


def _age(table: Table, name: str) -> int | None:
    value = table.raw(name, None)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 150:
        raise table.error(name, "must be a whole number of years between 0 and 150")
    return value


def _string_choice(
    table: Table, name: str, allowed: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    values = table.string_list(name, list(default))
    for v in values:
        if v not in allowed:
            raise table.error(name, f"unknown value {v!r} ({', '.join(allowed)})")
    return tuple(values)


def parse_programme(
    index: int, table: Table, check: Checker, tiers: Mapping[str, Tier], levels: tuple[int, ...]
) -> Programme:
    """One ``[[programmes]]`` table; its ``fund`` and ``adjust`` codes name tiers of the
    policy."""
    name = table.string("name")
    prefixes = read_prefixes(table)
    aid_classes = cast(
        tuple[AidClass, ...], _string_choice(table, "aid_classes", AID_CLASSES, AID_CLASSES)
    )
    visit_types = cast(
        tuple[VisitType, ...], _string_choice(table, "visit_types", VISIT_TYPES, VISIT_TYPES)
    )
    age_at_least = _age(table, "age_at_least")
    age_under = _age(table, "age_under")
    if age_at_least is not None and age_under is not None and age_under <= age_at_least:
        raise table.error("age_under", "must be above age_at_least")

    share = table.raw("patient_share_max", None)
    price = table.raw("case_price", None)
    case_share = table.raw("case_patient_share", None)
    patient_share_max = (
        None if share is None else check.ratio(share, table.key("patient_share_max"))
    )
    case_price = None if price is None else check.money(price, table.key("case_price"))
    case_patient_share = (
        None if case_share is None else check.ratio(case_share, table.key("case_patient_share"))
    )
    if patient_share_max is not None and case_price is not None:
        raise table.error("case_price", "give either patient_share_max or case_price, not both")
    if (case_price is None) != (case_patient_share is None):
        missing = "case_patient_share" if case_patient_share is None else "case_price"
        raise table.error(missing, "missing (case_price and case_patient_share go together)")
    pays = patient_share_max is not None or case_price is not None
    fund = table.raw("fund", None)
    if pays and fund is None:
        raise table.error("fund", "missing (the disease_programme fund that pays the rest)")
    if fund is not None:
        fund = table.string("fund")
        tier = tiers.get(fund)
        if not isinstance(tier, DiseaseProgrammeTier):
            raise table.error("fund", f"{fund!r} is not the code of a disease_programme fund")
        if not pays:
            raise table.error("fund", "set patient_share_max or case_price for the fund to pay")
    adjusted, notes = _adjustments(table, check, tiers, levels)
    if not pays and not adjusted:
        raise table.error(
            None, "does nothing: set patient_share_max, case_price or an [adjust] table"
        )
    table.finish()
    return Programme(
        index=index,
        name=name,
        prefixes=prefixes,
        aid_classes=aid_classes,
        visit_types=visit_types,
        age_at_least=age_at_least,
        age_under=age_under,
        fund=fund,
        patient_share_max=patient_share_max,
        case_price=case_price,
        case_patient_share=case_patient_share,
        adjusted=adjusted,
        adjust_note=notes,
    )


def parse_programmes(
    top: Table, check: Checker, tiers: tuple[Tier, ...], levels: tuple[int, ...]
) -> tuple[Programme, ...]:
    """``[[programmes]]`` (optional), in file order. Every ``disease_programme`` fund must be
    named by a programme."""
    value = top.raw("programmes", [])
    if not isinstance(value, list):
        raise top.error("programmes", "must be an array of tables ([[programmes]])")
    by_code = {t.code: t for t in tiers}
    programmes = tuple(
        parse_programme(i, Table(item, f"programmes[{i}]", top.source), check, by_code, levels)
        for i, item in enumerate(value)
    )
    named = {p.fund for p in programmes}
    for i, tier in enumerate(tiers):
        if isinstance(tier, DiseaseProgrammeTier) and tier.code not in named:
            raise top.error(f"funds[{i}].code", "no [[programmes]] entry names this fund")
    return programmes
