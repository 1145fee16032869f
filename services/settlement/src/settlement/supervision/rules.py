"""Supervision rules (智能审核规则) as data: a TOML file read and validated at start-up into
frozen rule objects (pure: no I/O beyond reading the file).

Every rule has a ``code`` (letters, digits and ``-``, unique), a ``kind``, a Chinese
``title``, a ``severity`` (``low`` | ``medium`` | ``high``), an ``action`` (``flag``, the
default: the bill is settled and the flag recorded; ``refuse``: the settle is refused with a
422 naming the rule) and ``enabled`` (default true), plus the parameters of its kind:

- ``quantity_beyond_stay`` — items billed per day (``codes``: exact item codes;
  ``name_patterns``: regular expressions searched in the item's name) whose quantity over the
  stay exceeds the length of stay + ``extra_days`` (default 1);
- ``readmission`` — an inpatient stay admitted within ``window_days`` (default 15) of the
  discharge of another stay of the person at any hospital, with the same main diagnosis (its
  first ``diagnosis_chars`` characters, default 3: the ICD-10 category); a readmission on the
  discharge day at another hospital is a transfer and is not flagged unless ``transfers``;
- ``same_day_outpatient`` — outpatient bills of one person on one day at ``min_hospitals``
  (default 2) or more hospitals, more than ``max_bills`` (default 2) of them;
- ``item_outlier`` / ``bill_outlier`` — an item's amount (a bill's ``medfee_sumamt``) above
  ``multiple`` × the median for that item code (visit type) and hospital level over the last
  ``window_days`` (default 90), once ``min_samples`` (default 20) bills make the median;
- ``monthly_rise`` — reported in the monthly view, never on a bill: a hospital's share of
  key-group patients (``measure = "key_patients"``) or of bills whose in-scope amount is just
  below the deductible (``measure = "below_threshold"``: within ``band`` below
  ``thresholds`` by hospital level) rising by more than ``max_rise`` from one month to the
  next, in months with at least ``min_bills`` bills.

A bad file stops start-up with a message naming the file and the key
(``rules[2].window_days: must be a whole number from 1 to 365``), like a bad policy.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Literal, TypedDict, cast

from settlement.engine.errors import PolicyError
from settlement.engine.reader import Checker, Table
from settlement.engine.types import VISIT_TYPES, VisitType

Severity = Literal["low", "medium", "high"]
Action = Literal["flag", "refuse"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high")
ACTIONS: tuple[Action, ...] = ("flag", "refuse")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")


_NAME_MATCHES: dict[tuple[str, str], bool] = {}
"""Item names already matched against a rule's patterns (names repeat from bill to bill)."""
_NAME_CACHE = 20_000


class _Common(TypedDict):
    code: str
    title: str
    severity: Severity
    action: Action
    enabled: bool


class RulesError(PolicyError):
    """The supervision rules file is invalid (``key`` names the offending key)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What every rule has."""

    kind: ClassVar[str]
    per_bill: ClassVar[bool] = True

    code: str
    title: str
    severity: Severity
    action: Action
    enabled: bool


@dataclass(frozen=True, slots=True)
class QuantityRule(Rule):
    kind: ClassVar[str] = "quantity_beyond_stay"
    codes: frozenset[str]
    name_patterns: tuple[re.Pattern[str], ...]
    extra_days: int
    names: re.Pattern[str] | None = None
    """The patterns as one alternation (built from ``name_patterns``)."""

    def __post_init__(self) -> None:
        if self.name_patterns and self.names is None:
            joined = "|".join(f"(?:{p.pattern})" for p in self.name_patterns)
            object.__setattr__(self, "names", re.compile(joined))

    def matches(self, code: str, name: str) -> bool:
        """The item is billed per day: its code is listed or its name matches a pattern."""
        if code in self.codes:
            return True
        if self.names is None:
            return False
        known = _NAME_MATCHES.get((self.names.pattern, name))
        if known is None:
            known = self.names.search(name) is not None
            if len(_NAME_MATCHES) >= _NAME_CACHE:
                _NAME_MATCHES.clear()
            _NAME_MATCHES[(self.names.pattern, name)] = known
        return known


@dataclass(frozen=True, slots=True)
class ReadmissionRule(Rule):
    kind: ClassVar[str] = "readmission"
    window_days: int
    diagnosis_chars: int
    transfers: bool


@dataclass(frozen=True, slots=True)
class SameDayRule(Rule):
    kind: ClassVar[str] = "same_day_outpatient"
    min_hospitals: int
    max_bills: int


@dataclass(frozen=True, slots=True)
class OutlierRule(Rule):
    """``item_outlier`` or ``bill_outlier`` (``scope``)."""

    kind: ClassVar[str] = "outlier"
    scope: Literal["item", "bill"]
    multiple: Decimal
    window_days: int
    min_samples: int


@dataclass(frozen=True, slots=True)
class MonthlyRule(Rule):
    kind: ClassVar[str] = "monthly_rise"
    per_bill: ClassVar[bool] = False
    measure: Literal["key_patients", "below_threshold"]
    max_rise: Decimal
    min_bills: int
    visit_types: tuple[VisitType, ...]
    thresholds: Mapping[int, Decimal]
    band: Decimal


@dataclass(frozen=True)
class RuleSet:
    """The rules of a deployment, in file order. ``per_bill_rules``, ``readmission_days``
    (the widest readmission window; ``None`` without such a rule), ``readmission_chars``
    (the shortest diagnosis prefix they compare) and ``same_day`` are worked out once, for
    the settle path."""

    version: str
    rules: tuple[Rule, ...]
    source: str = "<rules>"
    per_bill_rules: tuple[Rule, ...] = field(init=False, repr=False)
    readmission_days: int | None = field(init=False, repr=False)
    readmission_chars: int = field(init=False, repr=False)
    same_day: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        active = tuple(r for r in self.rules if r.enabled and r.per_bill)
        readmissions = [r for r in active if isinstance(r, ReadmissionRule)]
        object.__setattr__(self, "per_bill_rules", active)
        object.__setattr__(
            self,
            "readmission_days",
            max(r.window_days for r in readmissions) if readmissions else None,
        )
        object.__setattr__(
            self,
            "readmission_chars",
            min(r.diagnosis_chars for r in readmissions) if readmissions else 0,
        )
        object.__setattr__(self, "same_day", any(isinstance(r, SameDayRule) for r in active))

    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def of(self, kind: type[Rule]) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled and isinstance(r, kind))

    def outlier(self, scope: str) -> OutlierRule | None:
        for rule in self.rules:
            if rule.enabled and isinstance(rule, OutlierRule) and rule.scope == scope:
                return rule
        return None

    def monthly(self) -> tuple[MonthlyRule, ...]:
        return tuple(r for r in self.rules if r.enabled and isinstance(r, MonthlyRule))

    def by_code(self, code: str) -> Rule | None:
        return next((r for r in self.rules if r.code == code), None)


# ----------------------------------------------------------------------------- reading


def _whole(table: Table, name: str, default: int, low: int, high: int) -> int:
    value = table.raw(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise table.error(name, f"must be a whole number from {low} to {high}")
    return value


def _flag(table: Table, name: str, default: bool) -> bool:
    value = table.raw(name, default)
    if not isinstance(value, bool):
        raise table.error(name, "must be true or false")
    return value


def _choice(table: Table, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
    value = table.raw(name, default) if default is not None else table.raw(name)
    if value not in choices:
        raise table.error(name, f"must be one of {', '.join(choices)}")
    return str(value)


def _patterns(table: Table, name: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for index, text in enumerate(table.string_list(name, [])):
        try:
            out.append(re.compile(text))
        except re.error as exc:
            raise table.error(f"{name}[{index}]", f"is not a regular expression: {exc}") from None
    return tuple(out)


def _visit_types(table: Table, default: list[str]) -> tuple[VisitType, ...]:
    values = table.string_list("visit_types", default)
    for value in values:
        if value not in VISIT_TYPES:
            raise table.error(
                "visit_types", f"unknown visit type {value!r} (inpatient, outpatient)"
            )
    if not values:
        raise table.error("visit_types", "must name at least one visit type")
    return cast(tuple[VisitType, ...], tuple(values))


def _thresholds(table: Table, check: Checker) -> dict[int, Decimal]:
    value = table.raw("thresholds", {})
    key = table.key("thresholds")
    if not isinstance(value, Mapping):
        raise table.error("thresholds", "must be a table of amounts by hospital level")
    out: dict[int, Decimal] = {}
    for level, amount in value.items():
        if not (isinstance(level, str) and level.isdigit() and int(level) > 0):
            raise table.error(f"thresholds.{level}", "must be a hospital level (1, 2, 3 …)")
        out[int(level)] = check.money(amount, f"{key}.{level}")
        if out[int(level)] <= 0:
            raise table.error(f"thresholds.{level}", "must be more than zero")
    return out


def _rule(table: Table, check: Checker) -> Rule:
    code = table.string("code")
    if not _CODE.match(code):
        raise table.error("code", "must be 1-32 capital letters, digits or '-'")
    kind = _choice(
        table,
        "kind",
        (
            "quantity_beyond_stay",
            "readmission",
            "same_day_outpatient",
            "item_outlier",
            "bill_outlier",
            "monthly_rise",
        ),
    )
    common: _Common = {
        "code": code,
        "title": table.string("title"),
        "severity": cast(Severity, _choice(table, "severity", SEVERITIES)),
        "action": cast(Action, _choice(table, "action", ACTIONS, "flag")),
        "enabled": _flag(table, "enabled", True),
    }
    if kind == "quantity_beyond_stay":
        codes = frozenset(table.string_list("codes", []))
        patterns = _patterns(table, "name_patterns")
        if not codes and not patterns:
            raise table.error("name_patterns", "give codes or name_patterns (or both)")
        return QuantityRule(
            **common,
            codes=codes,
            name_patterns=patterns,
            extra_days=_whole(table, "extra_days", 1, 0, 366),
        )
    if kind == "readmission":
        return ReadmissionRule(
            **common,
            window_days=_whole(table, "window_days", 15, 1, 365),
            diagnosis_chars=_whole(table, "diagnosis_chars", 3, 1, 16),
            transfers=_flag(table, "transfers", False),
        )
    if kind == "same_day_outpatient":
        return SameDayRule(
            **common,
            min_hospitals=_whole(table, "min_hospitals", 2, 1, 100),
            max_bills=_whole(table, "max_bills", 2, 0, 1000),
        )
    if kind in ("item_outlier", "bill_outlier"):
        multiple = check.decimal(table.raw("multiple"), table.key("multiple"))
        if not Decimal(1) < multiple <= Decimal(1000):
            raise table.error("multiple", "must be more than 1 and at most 1000")
        return OutlierRule(
            **common,
            scope="item" if kind == "item_outlier" else "bill",
            multiple=multiple,
            window_days=_whole(table, "window_days", 90, 7, 366),
            min_samples=_whole(table, "min_samples", 20, 1, 1_000_000),
        )
    # monthly_rise
    if common["action"] != "flag":
        raise table.error("action", "a monthly rule is reported in the monthly view: use flag")
    measure = cast(
        Literal["key_patients", "below_threshold"],
        _choice(table, "measure", ("key_patients", "below_threshold")),
    )
    max_rise = check.ratio(table.raw("max_rise"), table.key("max_rise"))
    if max_rise <= 0:
        raise table.error("max_rise", "must be more than zero")
    thresholds = _thresholds(table, check)
    if measure == "below_threshold" and not thresholds:
        raise table.error("thresholds", "is required for measure = below_threshold")
    band = check.ratio(table.raw("band", Decimal("0.10")), table.key("band"))
    return MonthlyRule(
        **common,
        measure=measure,
        max_rise=max_rise,
        min_bills=_whole(table, "min_bills", 30, 1, 1_000_000),
        visit_types=_visit_types(
            table, ["inpatient"] if measure == "below_threshold" else list(VISIT_TYPES)
        ),
        thresholds=thresholds,
        band=band,
    )


def _parse(data: Mapping[str, object], source: str) -> RuleSet:
    top = Table(data, "", source)
    check = Checker(source)
    version = top.string("version")
    top.raw("description", "")
    values = top.raw("rules", [])
    if not isinstance(values, list):
        raise top.error("rules", "must be an array of tables ([[rules]])")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    scopes: dict[str, str] = {}
    for index, value in enumerate(values):
        table = Table(value, f"rules[{index}]", source)
        rule = _rule(table, check)
        table.finish()
        if rule.code in seen:
            raise table.error("code", f"{rule.code!r} is already used by {seen[rule.code]}")
        seen[rule.code] = table.key("code")
        if isinstance(rule, OutlierRule) and rule.enabled:
            if rule.scope in scopes:
                raise table.error(
                    "kind",
                    f"only one enabled {rule.scope}_outlier rule (also {scopes[rule.scope]})",
                )
            scopes[rule.scope] = table.key("kind")
        rules.append(rule)
    top.finish()
    return RuleSet(version=version, rules=tuple(rules), source=source)


def load_rules(text: str, *, source: str = "<rules>") -> RuleSet:
    """Parse and validate rules from TOML text (numbers as ``Decimal``, never float); a
    problem raises :class:`RulesError` naming the file and the key."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"not valid TOML: {exc}", source=source) from None
    try:
        return _parse(data, source)
    except RulesError:
        raise
    except PolicyError as exc:  # the shared reader raises PolicyError
        raise RulesError(exc.detail, key=exc.key, source=exc.source) from None


def load_rules_file(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read: {exc}", source=str(path)) from None
    return load_rules(text, source=path.name)


def default_rules_file() -> Path:
    """The sample rules shipped beside the sample policies
    (``settlement/policies/supervision/rules.toml``)."""
    return Path(__file__).resolve().parent.parent / "policies" / "supervision" / "rules.toml"
