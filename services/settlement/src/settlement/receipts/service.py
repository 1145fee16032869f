"""The printable one-stop settlement receipt (一站式结算单) as self-contained HTML."""

from __future__ import annotations

import json
from datetime import timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from settlement.engine import item_amount, vocabulary
from settlement.settlements.service import StoredBill
from settlement.supervision.schemas import FLAG_STATUS_LABELS
from shared.money import ZERO, money_str, signed_money_str

AID_CLASS_LABELS = vocabulary.AID_CLASS_LABELS
CATEGORY_LABELS = vocabulary.REGISTRY_CATEGORY_LABELS
VISIT_TYPE_LABELS = vocabulary.VISIT_TYPE_LABELS
LEVEL_LABELS = vocabulary.HOSPITAL_LEVEL_LABELS

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _group(value: int) -> str:
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        digit = value // 10**pos % 10
        if digit == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _UNITS[pos]
    return out


def rmb_upper(amount: Decimal) -> str:
    """An amount in capital Chinese numerals as printed on receipts (``1234.50`` →
    ``壹仟贰佰叁拾肆元伍角整``)."""
    fen_total = int((amount * 100).to_integral_value())
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    groups: list[int] = []
    n = yuan
    while n:
        groups.append(n % 10000)
        n //= 10000
    text, pending_zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            pending_zero = pending_zero or bool(text)
            continue
        if text and (pending_zero or group < 1000):
            text += "零"
        text += _group(group) + _GROUPS[index]
        pending_zero = False
    if yuan:
        text += "元"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    if not text:
        return "零元整"
    return text if fen else text + "整"


def _quantity(value: Any) -> str:
    number = Decimal(str(value)).normalize()
    return f"{number:f}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money_str
    env.filters["negated"] = lambda value: signed_money_str(ZERO - value)
    env.filters["upper_rmb"] = rmb_upper
    env.filters["quantity"] = _quantity
    return env


def render_receipt(stored: StoredBill, local_tz: timezone) -> str:
    """The receipt of a stored bill, times in the deployment's local time zone."""
    bill, hospital = stored.bill, stored.hospital
    items = json.loads(stored.items_json)
    for item in items:
        item["amount_value"] = (
            Decimal(item["amount"])
            if item.get("amount") is not None
            else item_amount(Decimal(item["unit_price"]), Decimal(item["quantity"]))
        )
    template = _environment().get_template("receipt.html")
    return template.render(
        bill=bill,
        hospital=hospital,
        items=items,
        setl_time=bill.setl_time.astimezone(local_tz) if bill.setl_time else None,
        revoked_at=bill.revoked_at.astimezone(local_tz) if bill.revoked_at else None,
        reversal_time=bill.reversal.setl_time.astimezone(local_tz) if bill.reversal else None,
        aid_class_label=AID_CLASS_LABELS.get(bill.patient.aid_class, bill.patient.aid_class),
        categories=[CATEGORY_LABELS.get(c, c) for c in bill.patient.categories],
        visit_type_label=VISIT_TYPE_LABELS.get(bill.visit_type, bill.visit_type),
        level_label=LEVEL_LABELS.get(hospital.level, str(hospital.level)),
        item_category_labels=vocabulary.ITEM_CATEGORY_LABELS,
        diagnoses=bill.diagnoses_detail,
        flag_status_labels=FLAG_STATUS_LABELS,
    )


def render_link_refused(*, bill_missing: bool = False) -> str:
    """The small page (Chinese, with an English line) a receipt link answers when it opens
    nothing: the link is not valid (missing, altered, expired, another bill's token), or,
    with ``bill_missing``, its bill does not exist."""
    return _environment().get_template("link_refused.html").render(bill_missing=bill_missing)
