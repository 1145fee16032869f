"""The tiers of a policy as frozen parameter objects, and how each is read from its
``[[funds]]`` table.

Only reading and validation live here (every error names the key, e.g.
``funds[2].ratio.key: must be between 0 and 1``); what a tier pays is in ``rules``, how it is
explained to the cashier in ``cashier``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, TypedDict, cast

from shared.money import ZERO, fen

from . import icd
from .reader import Checker, Table
from .types import (
    AID_CLASSES,
    SETLINFO_FUND_FIELDS,
    VISIT_TYPES,
    AidClass,
    SetlinfoField,
    VisitType,
)


@dataclass(frozen=True, slots=True)
class Tier:
    """What every tier has: its fund, its ``setlinfo`` column, whom and which visits it serves.

    ``limit_key`` / ``limit_for`` say which running total holds what the fund paid this year and
    its annual limit; ``limits.headroom`` reads both for every tier alike."""

    kind: ClassVar[str]
    # The aid classes a tier takes part for when the file does not say.
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = AID_CLASSES
    # True when the annual limit is kept per visit type (one accumulator row per visit type).
    limit_per_visit_type: ClassVar[bool] = False

    code: str
    name: str
    setlinfo_field: SetlinfoField
    visit_types: tuple[VisitType, ...]
    aid_classes: tuple[AidClass, ...]

    def limit_key(self, visit_type: VisitType) -> str:
        """The running total of what the fund paid this year."""
        return self.code

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        """The annual limit for a person of this class (None = no limit)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, eq=False)
class BasicCase:
    """Basic-fund parameters for one visit type, hospital level and aid class."""

    visit_type: VisitType
    level: int
    aid_class: AidClass
    full_deductible: Decimal  # the level's deductible before the class factor
    deductible: Decimal  # what this class is charged, rounded to the fen
    ratio: Decimal


@dataclass(frozen=True, slots=True)
class BasicVisit:
    """Basic-fund parameters of one visit type."""

    key: str  # running total: paid this year for this visit type
    annual_cap: Decimal | None
    cases: Mapping[tuple[int, AidClass], BasicCase]
    deductible_factor: Mapping[AidClass, Decimal]


@dataclass(frozen=True, slots=True)
class BasicTier(Tier):
    """Basic medical insurance (居民基本医疗保险统筹基金): a deductible per visit by hospital
    level (reduced by class), a ratio by level, an annual cap per visit type.

    Running total ``<code>.<visit_type>``: what the fund paid this year for that visit type."""

    kind: ClassVar[str] = "basic"
    limit_per_visit_type: ClassVar[bool] = True

    visits: Mapping[VisitType, BasicVisit]

    def limit_key(self, visit_type: VisitType) -> str:
        return self.visits[visit_type].key

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        return self.visits[visit_type].annual_cap


@dataclass(frozen=True, slots=True)
class MedicalAssistanceTier(Tier):
    """Medical assistance (医疗救助): a ratio by aid class of the in-scope amount still on the
    patient, optionally a ratio of the out-of-scope amount, inside an annual limit by class.

    Running total ``<code>``: paid this year."""

    kind: ClassVar[str] = "medical_assistance"
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = ("key", "assisted")

    ratio: Mapping[AidClass, Decimal]
    out_of_scope_ratio: Mapping[AidClass, Decimal]
    annual_limit: Mapping[AidClass, Decimal | None]

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        return self.annual_limit[aid_class]


@dataclass(frozen=True, slots=True)
class CumulativeTier(Tier):
    """A tier that pays on a base summed over the person's year: it owes ``target(base)`` for
    the year and pays, on each bill, the part of it not yet paid (``rules.cumulative``).

    Running totals ``<code>.<base_suffix>`` (the year's base, for every class) and ``<code>``
    (paid this year)."""

    base_suffix: ClassVar[str] = "base"

    base_key: str  # running total of the year's base: ``<code>.<base_suffix>``
    threshold: Mapping[AidClass, Decimal]
    annual_limit: Mapping[AidClass, Decimal | None]

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        return self.annual_limit[aid_class]


@dataclass(frozen=True, slots=True, eq=False)
class Band:
    """One band of banded ratios (critical illness, graded assistance): from ``lower`` to
    ``upper`` (None = open) above the threshold, at ``ratio``. ``start`` is the unrounded
    amount owed for everything below ``lower``; ``offset`` = ``start − lower × ratio`` (so the
    amount owed for ``over`` inside the band is ``offset + over × ratio``, exactly) and
    ``full`` the amount owed at ``upper`` (None for an open band)."""

    lower: Decimal
    upper: Decimal | None
    ratio: Decimal
    start: Decimal
    offset: Decimal
    full: Decimal | None


@dataclass(frozen=True, slots=True)
class BandedTier(CumulativeTier):
    """A cumulative tier paying banded ratios on the year's base above a threshold (critical
    illness, graded medical assistance); its target is ``rules.banded_target``."""

    bands: Mapping[AidClass, tuple[Band, ...]]


@dataclass(frozen=True, slots=True)
class CriticalIllnessTier(BandedTier):
    """Critical-illness insurance (居民大病保险): banded ratios on the year's cumulative base
    above a threshold, with an annual cap (``annual_limit``).

    Running totals ``<code>.base`` (in-scope amount left after the tiers before it, summed over
    the year's bills of its visit types — and of the outpatient chronic-disease bills whose
    group counts toward it — for every class) and ``<code>`` (paid this year)."""

    kind: ClassVar[str] = "critical_illness"


@dataclass(frozen=True, slots=True)
class GradedAssistanceTier(BandedTier):
    """Graded medical assistance (医疗救助·分类分段): a yearly threshold by aid class and ratio
    bands (segments) over the year's base above it, inside an annual limit by class; paid
    cumulatively like critical illness.

    Running totals ``<code>.base`` (in-scope amount still on the patient when the tier runs,
    summed over the year's bills, for every class) and ``<code>`` (paid this year)."""

    kind: ClassVar[str] = "graded_assistance"
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = ("key", "assisted")


@dataclass(frozen=True, slots=True)
class SecondaryAssistanceTier(CumulativeTier):
    """Secondary medical assistance (二次医疗救助): once the in-scope amount left on the patient
    in the year (after the tiers before it) exceeds a threshold, a ratio of the excess, inside
    an annual limit; paid cumulatively.

    Running totals ``<code>.cash_base`` (that amount, summed over the year's bills, for every
    class) and ``<code>`` (paid this year)."""

    kind: ClassVar[str] = "secondary_assistance"
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = ("key",)
    base_suffix: ClassVar[str] = "cash_base"

    ratio: Mapping[AidClass, Decimal]


@dataclass(frozen=True, slots=True)
class SupplementaryTier(Tier):
    """Supplementary insurance (扶贫特惠保险 / 商业补充保险): after a deductible per year, a ratio
    of the in-scope amount still on the patient (optionally a ratio of the out-of-scope amount
    too), up to an annual cap.

    Running totals ``<code>`` (paid this year) and ``<code>.dedc`` (deductible taken this
    year)."""

    kind: ClassVar[str] = "supplementary"
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = ("key", "assisted")

    deductible_key: str  # running total of the deductible taken this year: ``<code>.dedc``
    deductible: Mapping[AidClass, Decimal]
    ratio: Mapping[AidClass, Decimal]
    out_of_scope_ratio: Mapping[AidClass, Decimal]
    annual_limit: Mapping[AidClass, Decimal | None]

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        return self.annual_limit[aid_class]


@dataclass(frozen=True, slots=True, eq=False)
class ChronicGroup:
    """One group of outpatient chronic and special diseases (门诊慢特病), e.g. dialysis:
    matched by ICD-10 prefixes of the visit's diagnoses, with its own deductible per year (by
    class), ratio (by hospital level) and annual cap (by class). ``critical_illness``: its
    bills count toward the critical-illness base (and critical illness pays on them)."""

    tier_code: str
    id: str
    name: str
    prefixes: tuple[str, ...]  # normalised (``icd.normalise``)
    key: str  # running total: paid this year, ``<code>.<id>``
    deductible_key: str  # running total: deductible taken this year, ``<code>.<id>.dedc``
    deductible: Mapping[AidClass, Decimal]
    ratio: Mapping[int, Decimal]
    annual_cap: Mapping[AidClass, Decimal | None]
    critical_illness: bool


@dataclass(frozen=True, slots=True)
class OutpatientChronicTier(Tier):
    """Outpatient chronic and special diseases (门诊慢特病): an outpatient visit with a diagnosis
    of one of its groups is settled by the group's rule instead of the basic fund's general
    outpatient rule (and outside its annual cap).

    Running totals per group: ``<code>.<id>`` (paid this year) and ``<code>.<id>.dedc``
    (deductible taken this year)."""

    kind: ClassVar[str] = "outpatient_chronic"

    groups: tuple[ChronicGroup, ...]

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        return None  # the caps are per group (``ChronicGroup.annual_cap``)


@dataclass(frozen=True, slots=True)
class DiseaseProgrammeTier(Tier):
    """The fund of disease programmes (专项救治): on a visit matched to a programme that names
    it, pays what is left of the in-scope amount above the patient's share the programme
    allows (a share of the in-scope amount, or a fixed share of a case price), inside an
    optional annual limit by class. It takes no part in other visits.

    Running total ``<code>``: paid this year."""

    kind: ClassVar[str] = "disease_programme"

    annual_limit: Mapping[AidClass, Decimal | None]

    def limit_for(self, aid_class: AidClass, visit_type: VisitType) -> Decimal | None:
        return self.annual_limit[aid_class]


@dataclass(frozen=True, slots=True)
class BottomLineTier(CumulativeTier):
    """Government bottom-line fund (政府兜底): once the in-scope amount left on the patient in
    the year exceeds a threshold, pays the excess (inside an optional annual limit).

    Running totals ``<code>.cash_base`` (in-scope amount left on the patient after the tiers
    before it, summed over the year's bills of its visit types, for every class) and ``<code>``
    (paid this year)."""

    kind: ClassVar[str] = "bottom_line"
    default_aid_classes: ClassVar[tuple[AidClass, ...]] = ("key",)
    base_suffix: ClassVar[str] = "cash_base"


# Reading ----------------------------------------------------------------------------------


class _Common(TypedDict):
    code: str
    name: str
    setlinfo_field: SetlinfoField
    visit_types: tuple[VisitType, ...]
    aid_classes: tuple[AidClass, ...]


def _common(table: Table, defaults: tuple[AidClass, ...]) -> _Common:
    """The keys every tier has."""
    code = table.string("code")
    if not all(ch.isalnum() or ch in "-_" for ch in code):
        raise table.error("code", "must contain only letters, digits, '-' and '_'")
    name = table.string("name")
    field = table.string("setlinfo_field")
    if field not in SETLINFO_FUND_FIELDS:
        raise table.error("setlinfo_field", f"must be one of {', '.join(SETLINFO_FUND_FIELDS)}")
    visit_types = table.string_list("visit_types", list(VISIT_TYPES))
    for v in visit_types:
        if v not in VISIT_TYPES:
            raise table.error("visit_types", f"unknown visit type {v!r} (inpatient, outpatient)")
    classes = table.string_list("aid_classes", list(defaults))
    for c in classes:
        if c not in AID_CLASSES:
            raise table.error("aid_classes", f"unknown aid class {c!r} (key, assisted, none)")
    return {
        "code": code,
        "name": name,
        "setlinfo_field": field,
        "visit_types": cast(tuple[VisitType, ...], tuple(visit_types)),
        "aid_classes": cast(tuple[AidClass, ...], tuple(classes)),
    }


def read_annual_limit(
    table: Table, check: Checker, name: str, classes: tuple[AidClass, ...]
) -> dict[AidClass, Decimal | None]:
    """An optional per-class amount (``annual_cap`` / ``annual_limit``); None = no limit."""
    value = table.raw(name, None)
    if value is None:
        return dict.fromkeys(classes)
    return dict(check.per_class(value, table.key(name), classes, check.money))


def basic_cases(
    visit_type: VisitType,
    levels: tuple[int, ...],
    full: Mapping[int, Decimal],
    factor: Mapping[AidClass, Decimal],
    ratio: Mapping[int, Decimal],
) -> dict[tuple[int, AidClass], BasicCase]:
    """The basic fund's parameters of one visit type for every level and class."""
    return {
        (lv, c): BasicCase(visit_type, lv, c, full[lv], fen(full[lv] * factor[c]), ratio[lv])
        for lv in levels
        for c in AID_CLASSES
    }


def parse_basic(table: Table, check: Checker, levels: tuple[int, ...]) -> BasicTier:
    common = _common(table, BasicTier.default_aid_classes)
    visit_types = common["visit_types"]
    visits: dict[VisitType, BasicVisit] = {}
    for visit_type in visit_types:
        sub = table.table(visit_type)
        full = check.per_level(sub.raw("deductible", 0), sub.key("deductible"), levels, check.money)
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
        visits[visit_type] = BasicVisit(
            f"{common['code']}.{visit_type}",
            cap,
            basic_cases(visit_type, levels, full, factor, ratio),
            factor,
        )
    for visit_type in VISIT_TYPES:
        if visit_type not in visit_types and table.has(visit_type):
            raise table.error(visit_type, "visit type not listed in visit_types")
    return BasicTier(**common, visits=visits)


def parse_medical_assistance(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> MedicalAssistanceTier:
    common = _common(table, MedicalAssistanceTier.default_aid_classes)
    classes = common["aid_classes"]
    ratio = check.per_class(table.raw("ratio"), table.key("ratio"), classes, check.ratio)
    out_of_scope_ratio = check.per_class(
        table.raw("out_of_scope_ratio", 0),
        table.key("out_of_scope_ratio"),
        classes,
        check.ratio,
        fallback=ZERO,
    )
    guard_key_ratio(check, class_key(table, "ratio", "key"), ratio, "medical-assistance")
    return MedicalAssistanceTier(
        **common,
        ratio=ratio,
        out_of_scope_ratio=out_of_scope_ratio,
        annual_limit=read_annual_limit(table, check, "annual_limit", classes),
    )


def _bands(
    table: Table, check: Checker, classes: tuple[AidClass, ...]
) -> dict[AidClass, tuple[Band, ...]]:
    bands_value = table.raw("bands")
    if not isinstance(bands_value, list) or not bands_value:
        raise table.error("bands", "must be a non-empty array of tables ([[funds.bands]])")
    bands: dict[AidClass, list[Band]] = {c: [] for c in classes}
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
            previous = bands[c][-1] if bands[c] else None
            start = (
                ZERO
                if previous is None
                else previous.start + (lower - previous.lower) * previous.ratio
            )
            ratio = ratios[c]
            full = None if upper is None else start + (upper - lower) * ratio
            bands[c].append(Band(lower, upper, ratio, start, start - lower * ratio, full))
        if upper is not None:
            lower = upper
    return {c: tuple(b) for c, b in bands.items()}


# The plan's fixed numbers -------------------------------------------------------------------

PLAN_CRITICAL_ILLNESS_CAP = Decimal(500000)
"""The plan's critical-illness cap for key assistance groups: at least 500,000 yuan a year."""
PLAN_ASSISTANCE_RATIO = Decimal("0.70")
"""The plan's medical-assistance (and secondary-assistance) ratio for key groups: ≥ 70 %."""


def class_key(table: Table, name: str, aid_class: AidClass) -> str:
    """The key that gives ``aid_class`` its value of per-class ``name``: ``ratio.key``, or
    ``ratio.default`` / ``ratio`` when the class has no entry of its own."""
    value = table.data.get(name)
    if isinstance(value, Mapping):
        return table.key(f"{name}.{aid_class if aid_class in value else 'default'}")
    return table.key(name)


def guard_key_ratio(check: Checker, key: str, ratio: Mapping[AidClass, Decimal], what: str) -> None:
    """The plan: a key group's medical-assistance or secondary-assistance ratio is at least
    70 %. A lower one is recorded as a breach (``Checker.breach``); start-up refuses it."""
    value = ratio.get("key")
    if value is not None and value < PLAN_ASSISTANCE_RATIO:
        check.breach(
            key,
            f"{value} is below the plan's {what} ratio of 0.70 (70 %) for key assistance groups",
        )


def guard_critical_illness_cap(check: Checker, key: str, cap: Decimal | None) -> None:
    """The plan: the critical-illness cap for key groups is at least 500,000 yuan."""
    if cap is not None and cap < PLAN_CRITICAL_ILLNESS_CAP:
        check.breach(
            key,
            f"{cap} is below the plan's critical-illness cap of 500,000 yuan for key "
            "assistance groups",
        )


def parse_critical_illness(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> CriticalIllnessTier:
    common = _common(table, CriticalIllnessTier.default_aid_classes)
    classes = common["aid_classes"]
    threshold = check.per_class(
        table.raw("threshold"), table.key("threshold"), classes, check.money
    )
    annual_cap = read_annual_limit(table, check, "annual_cap", classes)
    if "key" in classes:
        guard_critical_illness_cap(check, class_key(table, "annual_cap", "key"), annual_cap["key"])
    return CriticalIllnessTier(
        **common,
        base_key=f"{common['code']}.{CriticalIllnessTier.base_suffix}",
        threshold=threshold,
        annual_limit=annual_cap,
        bands=_bands(table, check, classes),
    )


def parse_bottom_line(table: Table, check: Checker, levels: tuple[int, ...]) -> BottomLineTier:
    common = _common(table, BottomLineTier.default_aid_classes)
    classes = common["aid_classes"]
    threshold = check.per_class(
        table.raw("threshold"), table.key("threshold"), classes, check.money
    )
    return BottomLineTier(
        **common,
        base_key=f"{common['code']}.{BottomLineTier.base_suffix}",
        threshold=threshold,
        annual_limit=read_annual_limit(table, check, "annual_limit", classes),
    )


def parse_graded_assistance(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> GradedAssistanceTier:
    common = _common(table, GradedAssistanceTier.default_aid_classes)
    classes = common["aid_classes"]
    threshold = check.per_class(
        table.raw("threshold"), table.key("threshold"), classes, check.money
    )
    bands = _bands(table, check, classes)
    if "key" in classes:
        for i, band in enumerate(bands["key"]):
            band_table = Table(cast(list[object], table.data["bands"])[i], "", table.source)
            key = f"{table.key('bands')}[{i}].{class_key(band_table, 'ratio', 'key')}"
            guard_key_ratio(check, key, {"key": band.ratio}, "medical-assistance")
    return GradedAssistanceTier(
        **common,
        base_key=f"{common['code']}.{GradedAssistanceTier.base_suffix}",
        threshold=threshold,
        annual_limit=read_annual_limit(table, check, "annual_limit", classes),
        bands=bands,
    )


def parse_secondary_assistance(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> SecondaryAssistanceTier:
    common = _common(table, SecondaryAssistanceTier.default_aid_classes)
    classes = common["aid_classes"]
    threshold = check.per_class(
        table.raw("threshold"), table.key("threshold"), classes, check.money
    )
    ratio = check.per_class(table.raw("ratio"), table.key("ratio"), classes, check.ratio)
    guard_key_ratio(check, class_key(table, "ratio", "key"), ratio, "secondary-assistance")
    return SecondaryAssistanceTier(
        **common,
        base_key=f"{common['code']}.{SecondaryAssistanceTier.base_suffix}",
        threshold=threshold,
        annual_limit=read_annual_limit(table, check, "annual_limit", classes),
        ratio=ratio,
    )


def parse_supplementary(table: Table, check: Checker, levels: tuple[int, ...]) -> SupplementaryTier:
    common = _common(table, SupplementaryTier.default_aid_classes)
    classes = common["aid_classes"]
    deductible = check.per_class(
        table.raw("deductible", 0), table.key("deductible"), classes, check.money
    )
    ratio = check.per_class(table.raw("ratio"), table.key("ratio"), classes, check.ratio)
    out_of_scope_ratio = check.per_class(
        table.raw("out_of_scope_ratio", 0),
        table.key("out_of_scope_ratio"),
        classes,
        check.ratio,
        fallback=ZERO,
    )
    return SupplementaryTier(
        **common,
        deductible_key=f"{common['code']}.dedc",
        deductible=deductible,
        ratio=ratio,
        out_of_scope_ratio=out_of_scope_ratio,
        annual_limit=read_annual_limit(table, check, "annual_cap", classes),
    )


def read_prefixes(table: Table, name: str = "diagnoses") -> tuple[str, ...]:
    """A non-empty list of ICD-10 code prefixes (``["H25", "C91.0"]``), normalised."""
    prefixes = table.string_list(name)
    if not prefixes:
        raise table.error(name, "must list at least one ICD-10 code prefix")
    for prefix in prefixes:
        if not icd.PREFIX.match(prefix):
            raise table.error(
                name, f"{prefix!r} is not an ICD-10 code prefix (e.g. H25, C91.0, N18.5)"
            )
    return tuple(icd.normalise(p) for p in prefixes)


def _identifier(table: Table, name: str) -> str:
    value = table.string(name)
    if not all(ch.isalnum() or ch in "-_" for ch in value):
        raise table.error(name, "must contain only letters, digits, '-' and '_'")
    return value


def parse_outpatient_chronic(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> OutpatientChronicTier:
    common = _common(table, OutpatientChronicTier.default_aid_classes)
    if common["visit_types"] != ("outpatient",):
        raise table.error("visit_types", 'must be ["outpatient"] (outpatient chronic diseases)')
    classes = common["aid_classes"]
    code = common["code"]
    value = table.raw("diseases")
    if not isinstance(value, list) or not value:
        raise table.error("diseases", "must be a non-empty array of tables ([[funds.diseases]])")
    groups: list[ChronicGroup] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        sub = Table(item, f"{table.key('diseases')}[{i}]", table.source)
        group_id = _identifier(sub, "id")
        if group_id in seen:
            raise sub.error("id", f"{group_id!r} is already the id of another group")
        seen.add(group_id)
        groups.append(
            ChronicGroup(
                tier_code=code,
                id=group_id,
                name=sub.string("name"),
                prefixes=read_prefixes(sub),
                key=f"{code}.{group_id}",
                deductible_key=f"{code}.{group_id}.dedc",
                deductible=check.per_class(
                    sub.raw("deductible", 0), sub.key("deductible"), classes, check.money
                ),
                ratio=check.per_level(sub.raw("ratio"), sub.key("ratio"), levels, check.ratio),
                annual_cap=read_annual_limit(sub, check, "annual_cap", classes),
                critical_illness=_flag(sub, "critical_illness"),
            )
        )
        sub.finish()
    return OutpatientChronicTier(**common, groups=tuple(groups))


def _flag(table: Table, name: str) -> bool:
    value = table.raw(name, False)
    if not isinstance(value, bool):
        raise table.error(name, "must be true or false")
    return value


def parse_disease_programme(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> DiseaseProgrammeTier:
    common = _common(table, DiseaseProgrammeTier.default_aid_classes)
    return DiseaseProgrammeTier(
        **common,
        annual_limit=read_annual_limit(table, check, "annual_limit", common["aid_classes"]),
    )


TIER_PARSERS: dict[str, Callable[[Table, Checker, tuple[int, ...]], Tier]] = {
    "basic": parse_basic,
    "critical_illness": parse_critical_illness,
    "medical_assistance": parse_medical_assistance,
    "bottom_line": parse_bottom_line,
    "outpatient_chronic": parse_outpatient_chronic,
    "graded_assistance": parse_graded_assistance,
    "secondary_assistance": parse_secondary_assistance,
    "supplementary": parse_supplementary,
    "disease_programme": parse_disease_programme,
}
"""How each ``kind`` of ``[[funds]]`` table is read (file order of the keys is irrelevant)."""
