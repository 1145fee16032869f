"""Settlement policies: versioned TOML files, validated on load, chosen by date."""

from __future__ import annotations

import bisect
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import cast

from .errors import NoPolicyInForce, PolicyError
from .params import TIER_PARSERS, OutpatientChronicTier, Tier
from .programmes import Programme, parse_programmes
from .reader import Checker, Table
from .types import AID_CLASSES, TEMPORARY_ASSISTANCE_KEY, VISIT_TYPES, AidClass


@dataclass(frozen=True, eq=False, slots=True)
class Policy:
    """A parsed, validated policy. ``funds`` is the waterfall in file order: one frozen
    parameter object per tier (``params``). ``programmes``: the disease programmes in file
    order. ``plan_breaches``: where the file departs from the plan's fixed numbers (refused at
    start-up by ``check_plan``). ``routes``: the tiers a kind of visit runs through, filled by
    ``compute.route`` as visits come."""

    version: str
    effective_from: date
    hospital_levels: tuple[int, ...]
    b_self_pay_ratio: Decimal
    category_classes: Mapping[str, AidClass]
    deposit_free_classes: frozenset[str]
    temporary_assistance_code: str
    temporary_assistance_name: str
    funds: tuple[Tier, ...]
    source: str = "<policy>"
    identity_types: Mapping[str, str] = field(default_factory=dict)
    """``[identity_types]``: registry category → the national 人员身份类别 code
    (``psn_idet_type``) the national interface's 1101 answers; codes vary by province."""
    programmes: tuple[Programme, ...] = ()
    plan_breaches: tuple[PolicyError, ...] = ()
    funds_by_visit: Mapping[str, tuple[Tier, ...]] = field(init=False, repr=False)
    chronic_tiers: tuple[OutpatientChronicTier, ...] = field(init=False, repr=False)
    routes: dict[object, tuple[Tier, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_visit = {v: tuple(f for f in self.funds if v in f.visit_types) for v in VISIT_TYPES}
        object.__setattr__(self, "funds_by_visit", by_visit)
        chronic = tuple(f for f in self.funds if isinstance(f, OutpatientChronicTier))
        object.__setattr__(self, "chronic_tiers", chronic)
        object.__setattr__(self, "routes", {})

    def aid_class_for(self, categories: Iterable[str]) -> AidClass:
        """The aid class of a person holding these registry categories (``key`` wins)."""
        best: AidClass = "none"
        for category in categories:
            aid_class = self.category_classes.get(category)
            if aid_class == "key":
                return "key"
            if aid_class == "assisted":
                best = "assisted"
        return best


def _effective_from(top: Table) -> date:
    value = top.raw("effective_from")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise top.error("effective_from", "must be a date (YYYY-MM-DD)") from None
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise top.error("effective_from", "must be a date (YYYY-MM-DD)")
    return value


def _hospital_levels(top: Table) -> tuple[int, ...]:
    value = top.raw("hospital_levels")
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        or len(set(value)) != len(value)
    ):
        raise top.error("hospital_levels", "must be a non-empty list of distinct positive integers")
    return tuple(cast(list[int], value))


def _category_classes(top: Table) -> dict[str, AidClass]:
    """``[aid_classes]``: registry categories of the key and assisted classes."""
    classes = top.table("aid_classes")
    out: dict[str, AidClass] = {}
    for aid_class in ("key", "assisted"):
        for category in classes.string_list(aid_class, []):
            if category in out:
                raise classes.error(
                    aid_class, f"category {category!r} is already in {out[category]}"
                )
            out[category] = aid_class
    classes.finish()
    return out


def _identity_types(top: Table) -> dict[str, str]:
    """``[identity_types]`` (optional): registry category → national ``psn_idet_type``."""
    if not top.has("identity_types"):
        return {}
    table = top.table("identity_types")
    out = {str(name): table.string(str(name)) for name in table.data}
    table.finish()
    return out


def _tiers(top: Table, check: Checker, levels: tuple[int, ...], ta_code: str) -> tuple[Tier, ...]:
    """``[[funds]]``: the waterfall, each table read by the parser of its ``kind``."""
    funds_value = top.raw("funds")
    if not isinstance(funds_value, list) or not funds_value:
        raise top.error("funds", "must be a non-empty array of tables ([[funds]])")
    tiers: list[Tier] = []
    # Fund codes name running totals, so they must be distinct (and not the key reserved for
    # temporary assistance).
    codes = {ta_code: "temporary_assistance.code", TEMPORARY_ASSISTANCE_KEY: "the engine"}
    for i, fund_value in enumerate(funds_value):
        table = Table(fund_value, f"funds[{i}]", top.source)
        kind = table.string("kind")
        parse = TIER_PARSERS.get(kind)
        if parse is None:
            raise table.error("kind", f"unknown fund kind {kind!r} ({', '.join(TIER_PARSERS)})")
        tier = parse(table, check, levels)
        table.finish()
        if tier.code in codes:
            raise table.error("code", f"{tier.code!r} is already used by {codes[tier.code]}")
        codes[tier.code] = table.key("code")
        tiers.append(tier)
    return tuple(tiers)


def _parse(data: Mapping[str, object], source: str) -> Policy:
    top = Table(data, "", source)
    check = Checker(source)
    version = top.string("version")
    top.raw("description", "")
    effective_from = _effective_from(top)
    levels = _hospital_levels(top)
    category_classes = _category_classes(top)

    deposit_free = top.string_list("deposit_free_classes", [])
    for aid_class in deposit_free:
        if aid_class not in AID_CLASSES:
            raise top.error("deposit_free_classes", f"unknown aid class {aid_class!r}")

    scope = top.table("scope")
    b_ratio = check.ratio(scope.raw("b_self_pay_ratio"), scope.key("b_self_pay_ratio"))
    scope.finish()

    assistance = top.table("temporary_assistance")
    ta_code = assistance.string("code")
    ta_name = assistance.string("name")
    assistance.finish()

    tiers = _tiers(top, check, levels, ta_code)
    identity_types = _identity_types(top)
    programmes = parse_programmes(top, check, tiers, levels)
    top.finish()
    return Policy(
        version=version,
        effective_from=effective_from,
        hospital_levels=levels,
        b_self_pay_ratio=b_ratio,
        category_classes=category_classes,
        deposit_free_classes=frozenset(deposit_free),
        temporary_assistance_code=ta_code,
        temporary_assistance_name=ta_name,
        funds=tiers,
        source=source,
        identity_types=identity_types,
        programmes=programmes,
        plan_breaches=tuple(check.breaches),
    )


def load_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and validate a policy from TOML text. Numbers are read as Decimal, never float.

    Raises ``PolicyError`` naming the file and the offending key."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}", source=source) from None
    return _parse(data, source)


def check_plan(policy: Policy) -> None:
    """Refuse a policy that departs from the plan's fixed numbers: a critical-illness cap for
    key assistance groups below 500,000 yuan, or a medical-assistance (graded or flat) or
    secondary-assistance ratio for key groups below 0.70. Raises ``PolicyError`` naming the
    file and the key (``2023.toml: funds[4].bands[0].ratio.key: 0.65 is below the plan's …``).

    ``load_policy`` reads such a file (the engine can compute with it, e.g. in a test); a
    deployment's ``PolicySet`` runs this check on every policy, so start-up refuses it, and
    the what-if refuses such a candidate."""
    if policy.plan_breaches:
        raise policy.plan_breaches[0]


def load_policy_file(path: Path) -> Policy:
    """Load one policy file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read: {exc}", source=str(path)) from None
    return load_policy(text, source=path.name)


@dataclass(frozen=True)
class PolicySet:
    """Every policy of a deployment, oldest first; picks the one in force on a date. Every
    policy must keep the plan's fixed numbers (``check_plan``)."""

    policies: tuple[Policy, ...]

    def __post_init__(self) -> None:
        for policy in self.policies:
            check_plan(policy)
        ordered = tuple(sorted(self.policies, key=lambda p: p.effective_from))
        seen_versions: dict[str, str] = {}
        seen_dates: dict[date, str] = {}
        for policy in ordered:
            if policy.version in seen_versions:
                raise PolicyError(
                    f"version {policy.version!r} is also defined in "
                    f"{seen_versions[policy.version]}",
                    key="version",
                    source=policy.source,
                )
            if policy.effective_from in seen_dates:
                raise PolicyError(
                    f"{policy.effective_from} is also the effective_from of "
                    f"{seen_dates[policy.effective_from]}",
                    key="effective_from",
                    source=policy.source,
                )
            seen_versions[policy.version] = policy.source
            seen_dates[policy.effective_from] = policy.source
        object.__setattr__(self, "policies", ordered)

    @classmethod
    def from_dir(cls, path: Path) -> PolicySet:
        """Load every ``*.toml`` in a folder; any bad file, or two files with the same version
        or start date, raises ``PolicyError``. An empty folder is an error too."""
        files = sorted(path.glob("*.toml"))
        if not files:
            raise PolicyError("no policy files (*.toml) found", source=str(path))
        return cls(tuple(load_policy_file(f) for f in files))

    def for_date(self, d: date) -> Policy:
        """The newest policy whose ``effective_from`` is on or before ``d``."""
        index = bisect.bisect_right([p.effective_from for p in self.policies], d)
        if index == 0:
            raise NoPolicyInForce(f"no settlement policy is in force on {d.isoformat()}")
        return self.policies[index - 1]

    def by_version(self, version: str) -> Policy:
        """The policy with this version (e.g. to revoke a bill under the policy it used)."""
        for policy in self.policies:
            if policy.version == version:
                return policy
        raise NoPolicyInForce(f"no settlement policy has version {version!r}")


def default_policy_dir() -> Path:
    """The sample policies shipped with the package (``settlement/policies``): ``2017`` and
    ``2020``, the deployment's policies unless ``SETTLEMENT_POLICY_DIR`` names others."""
    return Path(__file__).resolve().parent.parent / "policies"


def ladder_policy_dir() -> Path:
    """The sample of the plan's whole assistance ladder (``settlement/policies/ladder``):
    ``2023.toml``, in force from 2023-01-01. Shipped apart from the default samples, so a
    deployment turns it on by copying it into its policy folder (beside the policies its
    earlier bills used) rather than by upgrading."""
    return default_policy_dir() / "ladder"
