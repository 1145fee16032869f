"""The one mapper from a bill's row (stored, or just computed) to the API's answer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from settlement.bills.models import FUND_FIELDS
from settlement.engine import SETLINFO_FIELDS
from settlement.schemas import PatientOut
from settlement.settlements.lines import line_outs
from settlement.settlements.receipt_links import ReceiptLinks
from settlement.settlements.schemas import BillOut, DiagnosisOut, FundRowOut, ReversalOut
from shared.idnumber import mask_id_number
from shared.money import FEN, MAX_AMOUNT, ZERO, parse_money


def _amount(value: Decimal) -> Decimal:
    """An amount for an answer, as ``Money`` would validate it (two decimals), without a
    validator run: the values come from the engine or the database, already in fen."""
    fixed = value.quantize(FEN)
    if fixed != value or not ZERO <= value <= MAX_AMOUNT:
        return parse_money(value)  # raises, with the validator's reason
    return fixed


def _json(value: Any) -> Any:
    """A JSON column as stored (text), or the value it was made from."""
    return json.loads(value) if isinstance(value, str) else value


def fund_row_out(row: Any) -> FundRowOut:
    """A ``setldetail`` row (the engine's ``FundDetail`` or a stored row)."""
    values = {name: getattr(row, name) for name in FUND_FIELDS}
    for name, value in values.items():
        if isinstance(value, Decimal):
            values[name] = _amount(value)
    return FundRowOut.model_construct(**values)


# The answer is assembled with ``model_construct``: every value is already of its field's type
# (engine results, the validated request, typed database columns), and amounts go through
# ``_amount``, so validating the ≈ 40 fields again would only cost time.


def reversal_out(row: Any) -> ReversalOut:
    """A stored reversal row, as the revoked bill's ``reversal``."""
    return ReversalOut.model_construct(
        setl_id=row.setl_id, setl_time=row.setl_time, setl_date=row.setl_date, refd_setl_flag=1
    )


def diagnoses_detail(codes: list[str], names: list[str | None] | None) -> list[DiagnosisOut]:
    """``{code, name}`` per diagnosis, in order; ``names`` is the stored list aligned with the
    codes (``None``: no name was sent, as on bills settled before names could be)."""
    given = names if names is not None and len(names) == len(codes) else [None] * len(codes)
    return [DiagnosisOut.model_construct(code=c, name=n) for c, n in zip(codes, given, strict=True)]


def bill_out(
    row: Mapping[str, Any] | Any,
    funds: Iterable[Any],
    hospital_code: str,
    reversal: Any | None = None,
    *,
    links: ReceiptLinks | None = None,
) -> BillOut:
    """The answer for a bill: a stored row (attribute access) or the row a settle or preview
    has just made (a mapping; JSON columns may still be lists); ``reversal``: the stored
    reversal row of a revoked bill; ``links``: signs the bill's ``receipt_url`` (none without
    it, and none on a preview, which has no ``setl_id``). ``lines`` come from the row's
    ``items`` (the stored lines' JSON, :mod:`settlement.settlements.lines`)."""
    amounts: dict[str, Any] = {}
    if isinstance(row, Mapping):
        get = row.__getitem__
        items = row.get("items")
    else:
        get = lambda name: getattr(row, name)  # noqa: E731
        items = getattr(row, "items", None)
    for name in SETLINFO_FIELDS:
        amounts[name] = _amount(get(name))
    setl_id = get("setl_id")
    codes = _json(get("diagnoses"))
    return BillOut.model_construct(
        setl_id=setl_id,
        status=get("status"),
        hospital_code=hospital_code,
        visit_id=get("visit_id"),
        visit_type=get("visit_type"),
        admitted_on=get("admitted_on"),
        discharged_on=get("discharged_on"),
        diagnoses=codes,
        diagnoses_detail=diagnoses_detail(codes, _json(get("diagnosis_names"))),
        receipt_url=links.url(setl_id) if links is not None and setl_id else None,
        setl_time=get("setl_time"),
        revoked_at=get("revoked_at"),
        policy_version=get("policy_version"),
        hospital_level=get("hospital_level"),
        patient=PatientOut.model_construct(
            id_number_masked=mask_id_number(get("id_number")),
            name=get("patient_name"),
            aid_class=get("aid_class"),
            categories=_json(get("categories")),
            registered=get("registered"),
            eligibility_on=get("eligibility_on"),
            eligibility_source=get("eligibility_source"),
        ),
        setldetail=[fund_row_out(f) for f in funds],
        trace=_json(get("trace")),
        setl_date=get("setl_date"),
        refd_setl_flag=0,
        reversal=reversal_out(reversal) if reversal is not None else None,
        lines=line_outs(items),
        # Given, not defaulted: model_construct would inspect the default factory's signature
        # on every answer (a measurable share of a settle's CPU).
        flags=[],
        **amounts,
    )
