"""A bill's fee lines: classified by the catalogue, split by the engine, stored with the bill.

**Classification** (:func:`classify`). With a catalogue loaded (医保目录), each line's
``code`` is the hospital's own code: its mapping (目录对照) gives the national code, else the
code is taken as a national code when the catalogue has it. The version of that code valid
on the bill date (discharge date; visit date for outpatients) decides the line:
``chrgitm_lv`` 01 → A (甲类), 02 → B (乙类, ``selfpay_prop`` its "pay first" ratio; empty: the
policy's), 03 → C (丙类), and ``pric_uplmt_amt`` its price cap. What the hospital declared
(category, ratio, cap) is ignored. A line whose code is in neither, or has no version on that
date, is fully self-paid (C) and says so (``source`` ``unlisted``). Without a catalogue the
hospital's declaration counts (``source`` ``declared``), as before catalogues existed.

**Stored lines** (:func:`line_records`). A bill stores each line in its ``items`` JSON as the
engine computed it — the request's fields with the classified ``category``,
``self_pay_ratio`` and ``price_cap`` — plus the per-line results: ``declared_category``,
``source``, ``med_list_codg``, ``chrgitm_lv``, ``selfpay_prop`` (the ratio applied),
``pric_uplmt_amt``, ``det_item_fee_sumamt`` and the four parts (``fulamt_ownpay_amt``,
``overlmt_amt``, ``preselfpay_amt``, ``inscp_scp_amt``). So the bill's answer, its receipt
(甲/乙/丙 per line), the later parts of a stay and the policy what-if all see the lines as
they were settled, whatever the catalogue says later. Bills stored before per-line results
have no ``source`` in their lines; their answer carries ``lines: null``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_json

from settlement.catalogue.cache import CatalogueView
from settlement.engine import FeeItem, LineSplit
from settlement.settlements.schemas import FeeItemIn, FeeLineOut

CATEGORY_OF_LEVEL = {"01": "A", "02": "B", "03": "C"}
LEVEL_OF_CATEGORY = {"A": "01", "B": "02", "C": "03"}

DECLARED = ("declared", None, None)


@dataclass(frozen=True, slots=True)
class Classified:
    """A bill's lines: as sent (``sent``), as the engine computes them (``items``) and per line
    ``(source, med_list_codg, note)``."""

    sent: Sequence[FeeItemIn]
    items: list[FeeItem]
    facts: list[tuple[str, str | None, str | None]]


def declared_item(item: FeeItemIn) -> FeeItem:
    return FeeItem(
        code=item.code,
        name=item.name,
        category=item.category,
        unit_price=item.unit_price,
        quantity=item.quantity,
        amount=item.amount,
        self_pay_ratio=item.self_pay_ratio,
        price_cap=item.price_cap,
    )


def classify(view: CatalogueView, sent: Sequence[FeeItemIn], on: date) -> Classified:
    """The lines as the catalogue (or, with none loaded, the hospital) classifies them on
    ``on``."""
    if not view.loaded:
        return Classified(sent, [declared_item(i) for i in sent], [DECLARED] * len(sent))
    items: list[FeeItem] = []
    facts: list[tuple[str, str | None, str | None]] = []
    for line in sent:
        national = view.national_code(line.code)
        entry = view.entry(national, on) if national is not None else None
        if entry is None:
            category, ratio, cap = "C", None, None
            if national is None:
                note = f"{line.code} 不在医保目录或本院对照中：全自费（丙类）"
            else:
                note = f"{national} 在 {on.isoformat()} 无有效目录版本：全自费（丙类）"
            facts.append(("unlisted", national, note))
        else:
            category = CATEGORY_OF_LEVEL[entry.chrgitm_lv]
            ratio = entry.selfpay_prop if category == "B" else None
            cap = entry.pric_uplmt_amt if category != "C" else None
            facts.append(("catalogue", national, None))
        items.append(
            FeeItem(
                code=line.code,
                name=line.name,
                category=category,  # type: ignore[arg-type]
                unit_price=line.unit_price,
                quantity=line.quantity,
                amount=line.amount,
                self_pay_ratio=ratio,
                price_cap=cap,
            )
        )
    return Classified(sent, items, facts)


_RATIO_TEXT: dict[Decimal, str] = {}


def _ratio(value: Decimal) -> str:
    """A ratio as written, without trailing zeros (``0.1000`` → ``"0.1"``)."""
    text = _RATIO_TEXT.get(value)
    if text is None:
        text = f"{value.normalize():f}"
        if len(_RATIO_TEXT) < 10_000:
            _RATIO_TEXT[value] = text
    return text


def line_records(
    lines: Classified, splits: Sequence[LineSplit], b_self_pay_ratio: Decimal
) -> list[dict[str, Any]]:
    """The stored form of each line (see the module's docstring): every field of the answer's
    ``FeeLineOut`` plus what the engine computed the line with. ``splits`` are the engine's
    ``Bill.lines`` for these lines, ``b_self_pay_ratio`` the policy's ratio for a B line
    without one of its own. Amounts stay ``Decimal`` (to the fen, as the engine and the
    request give them); :func:`dump_records` writes each as its exact decimal text."""
    out: list[dict[str, Any]] = []
    b_ratio = _ratio(b_self_pay_ratio)
    for sent, item, (source, national, note), split in zip(
        lines.sent, lines.items, lines.facts, splits, strict=True
    ):
        fulamt, overlmt, preself, inscp = split
        category = item.category
        own_ratio = item.self_pay_ratio
        if category == "A":
            ratio = "0"
        elif category == "C":
            ratio = "1"
        else:
            ratio = b_ratio if own_ratio is None else _ratio(own_ratio)
        cap = item.price_cap
        out.append(
            {
                "code": item.code,
                "name": item.name,
                "category": category,
                "unit_price": item.unit_price,
                "quantity": item.quantity,
                "amount": item.amount,
                "self_pay_ratio": own_ratio,
                "price_cap": cap,
                "med_list_codg": national,
                "source": source,
                "declared_category": sent.category,
                "chrgitm_lv": LEVEL_OF_CATEGORY[category],
                "selfpay_prop": ratio,
                "pric_uplmt_amt": cap,
                "det_item_fee_sumamt": fulamt + overlmt + preself + inscp,
                "fulamt_ownpay_amt": fulamt,
                "overlmt_amt": overlmt,
                "preselfpay_amt": preself,
                "inscp_scp_amt": inscp,
                "note": note,
            }
        )
    return out


def dump_records(records: Sequence[dict[str, Any]]) -> str:
    """The ``items`` column's JSON text: amounts, prices, quantities and ratios as exact
    decimal strings (an engine amount, to the fen, reads ``"600.00"``)."""
    return to_json(records).decode()


_LINES = TypeAdapter(list[FeeLineOut])


def line_outs(stored: str | None) -> list[FeeLineOut] | None:
    """The answer's ``lines`` from stored records (the ``items`` JSON text); None for a bill
    stored before per-line results."""
    if stored is None or '"source"' not in stored[:4000]:
        return None
    return _LINES.validate_json(stored)


def stored_items(text: str) -> list[FeeItem]:
    """A stored bill's lines as the engine computed them (the earlier parts of a stay): never
    classified again."""

    def dec(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        FeeItem(
            code=r["code"],
            name=r["name"],
            category=r["category"],
            unit_price=Decimal(str(r["unit_price"])),
            quantity=Decimal(str(r["quantity"])),
            amount=dec(r.get("amount")),
            self_pay_ratio=dec(r.get("self_pay_ratio")),
            price_cap=dec(r.get("price_cap")),
        )
        for r in json.loads(text)
    ]
