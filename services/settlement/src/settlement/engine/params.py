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
    """One band of the critical-illness ratios: from ``lower`` to ``upper`` (None = open) above
    the threshold, at ``ratio``. ``start`` is the unrounded amount owed for everything below
    ``lower``."""

    lower: Decimal
    upper: Decimal | None
    ratio: Decimal
    start: Decimal


@dataclass(frozen=True, slots=True)
class CriticalIllnessTier(CumulativeTier):
    """Critical-illness insurance (居民大病保险): banded ratios on the year's cumulative base
    above a threshold, with an annual cap (``annual_limit``).

    Running totals ``<code>.base`` (in-scope amount left after the tiers before it, summed over
    the year's bills of its visit types, for every class) and ``<code>`` (paid this year)."""

    kind: ClassVar[str] = "critical_illness"

    bands: Mapping[AidClass, tuple[Band, ...]]


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
        cases = {
            (lv, c): BasicCase(visit_type, lv, c, full[lv], fen(full[lv] * factor[c]), ratio[lv])
            for lv in levels
            for c in AID_CLASSES
        }
        visits[visit_type] = BasicVisit(f"{common['code']}.{visit_type}", cap, cases)
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
            bands[c].append(Band(lower, upper, ratios[c], start))
        if upper is not None:
            lower = upper
    return {c: tuple(b) for c, b in bands.items()}


def parse_critical_illness(
    table: Table, check: Checker, levels: tuple[int, ...]
) -> CriticalIllnessTier:
    common = _common(table, CriticalIllnessTier.default_aid_classes)
    classes = common["aid_classes"]
    threshold = check.per_class(
        table.raw("threshold"), table.key("threshold"), classes, check.money
    )
    annual_cap = read_annual_limit(table, check, "annual_cap", classes)
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


TIER_PARSERS: dict[str, Callable[[Table, Checker, tuple[int, ...]], Tier]] = {
    "basic": parse_basic,
    "critical_illness": parse_critical_illness,
    "medical_assistance": parse_medical_assistance,
    "bottom_line": parse_bottom_line,
}
"""How each ``kind`` of ``[[funds]]`` table is read (file order of the keys is irrelevant)."""
