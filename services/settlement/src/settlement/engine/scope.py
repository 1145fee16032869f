"""Step 1 of the waterfall: each fee item split into its out-of-scope parts and the in-scope
amount the funds work on, each part rounded to the fen (half up) per item."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from shared.money import ZERO, fen

from .errors import BillInputError
from .types import FeeItem, LineSplit


def item_amount(unit_price: Decimal, quantity: Decimal) -> Decimal:
    """The amount of a fee item: ``unit_price × quantity`` rounded to the fen, half up.

    A bill that gives an item's ``amount`` must give exactly this."""
    return fen(unit_price * quantity)


class Scope(NamedTuple):
    """The bill's amounts after scope (``setlinfo`` names)."""

    fulamt_ownpay_amt: Decimal  # C items (丙类)
    overlmt_selfpay: Decimal  # above an item's price cap
    preselfpay_amt: Decimal  # "pay first" part of B items
    inscp_scp_amt: Decimal  # in scope: what the funds work on
    lines: tuple[LineSplit, ...] = ()  # per item, in order (``types.LINE_SPLIT_FIELDS``)

    @property
    def medfee_sumamt(self) -> Decimal:
        return (
            self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt + self.inscp_scp_amt
        )

    @property
    def out_of_scope(self) -> Decimal:
        return self.fulamt_ownpay_amt + self.overlmt_selfpay + self.preselfpay_amt


def _item_error(index: int, item: FeeItem) -> BillInputError:
    """Say what is wrong with an item the fast path refused."""
    where = f"items[{index}]"
    for name in ("unit_price", "quantity", "amount", "price_cap", "self_pay_ratio"):
        value = getattr(item, name)
        if value is None and name not in ("unit_price", "quantity"):
            continue
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            return BillInputError(f"{where}.{name}", "must be a decimal number")
        if isinstance(value, Decimal) and not value.is_finite():
            return BillInputError(f"{where}.{name}", "must be a finite number")
        if value < 0:
            return BillInputError(f"{where}.{name}", "must not be negative")
        if name == "self_pay_ratio" and value > 1:
            return BillInputError(f"{where}.{name}", "must be between 0 and 1")
    if item.category not in ("A", "B", "C"):
        return BillInputError(f"{where}.category", "must be A, B or C")
    return BillInputError(where, "cannot be settled")


def scope_items(items: Sequence[FeeItem], b_self_pay_ratio: Decimal) -> Scope:
    """Split the items; raises ``BillInputError`` naming the item field it refuses.

    The bill's parts are the sums of the items' parts; ``Scope.lines`` keeps each item's
    ``(fulamt_ownpay_amt, overlmt_amt, preselfpay_amt, inscp_scp_amt)``, in the items' order
    (like the per-line output of the national fee-detail upload, 2204 / 2301).

    - C (丙类): the whole amount is fully self-paid.
    - A / B with a ``price_cap`` below the unit price: the within-cap part is ``cap × quantity``
      rounded; the rest of the amount is above the cap (so the parts always add up to the
      amount and never shrink when a price rises).
    - B (乙类): ``self_pay_ratio`` (default ``b_self_pay_ratio``) of the within-cap part is paid
      first by the patient.
    - The rest is in scope.
    """
    fulamt = overlmt = preself = inscp = ZERO
    lines: list[LineSplit] = []
    add_line = lines.append
    for index, item in enumerate(items):
        try:
            unit_price = item.unit_price
            quantity = item.quantity
            if unit_price < ZERO or quantity < ZERO:
                raise _item_error(index, item)
            amount = item_amount(unit_price, quantity)
            given = item.amount
            if given is not None and given != amount:
                if given < ZERO:
                    raise BillInputError(f"items[{index}].amount", "must not be negative")
                raise BillInputError(
                    f"items[{index}].amount",
                    f"{given} does not equal unit_price × quantity = {amount}",
                )
            cap = item.price_cap
            ratio = item.self_pay_ratio
            if (cap is not None and cap < ZERO) or (ratio is not None and not ZERO <= ratio <= 1):
                raise _item_error(index, item)
            category = item.category
            if category == "C":
                fulamt += amount
                add_line((amount, ZERO, ZERO, ZERO))
                continue
            if category != "A" and category != "B":
                raise _item_error(index, item)
            within = amount
            over = pre = ZERO
            if cap is not None and cap < unit_price:
                within = fen(cap * quantity)
                over = amount - within
                overlmt += over
            if category == "B":
                pre = fen(within * (b_self_pay_ratio if ratio is None else ratio))
                preself += pre
                within -= pre
            inscp += within
            add_line((ZERO, over, pre, within))
        except (TypeError, AttributeError, InvalidOperation):
            raise _item_error(index, item) from None
    return Scope(fulamt, overlmt, preself, inscp, tuple(lines))
