"""Running totals and annual limits: the one place a tier's limit is read.

``compute`` (through the tier rules) and ``remaining_limits`` both go through ``headroom``, so a
bill's ``crt_payb_lmt_amt`` is always what the accumulators answer says is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from shared.money import ZERO, fen

from .errors import BillInputError
from .params import Tier
from .types import AidClass, VisitType


def running_total(totals: Mapping[str, Decimal], key: str) -> Decimal:
    """A person's running total for the year; a missing key is zero."""
    value = totals.get(key)
    if value is None:
        return ZERO
    try:
        if value >= ZERO:
            return fen(value)
    except (AttributeError, TypeError, InvalidOperation):
        pass
    raise BillInputError(f"totals[{key}]", "must be a non-negative amount")


Headroom = tuple[str, Decimal, Decimal | None, Decimal | None]
"""A fund's year so far for one person: (the running total that holds what it paid, the amount
paid, its annual limit, what it may still pay); the last two None when there is no limit."""


def headroom(
    tier: Tier, aid_class: AidClass, visit_type: VisitType, totals: Mapping[str, Decimal]
) -> Headroom:
    """What ``tier`` has paid this person this year and may still pay."""
    return account(totals, tier.limit_key(visit_type), tier.limit_for(aid_class, visit_type))


def account(totals: Mapping[str, Decimal], key: str, limit: Decimal | None) -> Headroom:
    """What the running total ``key`` holds and what ``limit`` (None = none) still leaves —
    the one rule of every annual limit (a tier's, or a chronic-disease group's)."""
    paid = running_total(totals, key)
    if limit is None:
        return key, paid, None, None
    return key, paid, limit, limit - paid if paid < limit else ZERO


def yearly_deductible(
    totals: Mapping[str, Decimal], key: str, deductible: Decimal, base: Decimal
) -> Decimal:
    """The part of a yearly deductible this bill takes: what the year has not yet taken
    (running total ``key``), at most the bill's ``base``."""
    left = deductible - running_total(totals, key)
    if left <= 0:
        return ZERO
    return left if left < base else base
