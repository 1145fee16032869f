"""Settle / pre-settle requests and the bill they return (``setlinfo`` + ``setldetail``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from settlement.schemas import (
    EXAMPLE_ID_MASKED,
    EXAMPLE_ID_NUMBER,
    Name,
    PastDate,
    PatientIn,
    PatientOut,
    Strict,
    VisitId,
    _no_control,
)
from settlement.supervision.schemas import BillFlagOut
from shared.money import Money, decimal_parser, parse_money
from shared.timestamps import Timestamp

MAX_ITEMS = 2000
"""Fee items sent in one request. A stay with more uploads its lines in batches
(``POST /v1/visits/{visit_id}/fee-details``) and settles them with a request without
``items``, or settles in interim parts: either way the admission pays one deductible and the
funds pay what one bill with every line would give."""
MAX_UNIT_PRICE = Decimal("10000000")
MAX_QUANTITY = Decimal("100000")
MAX_BILL_TOTAL = Decimal("100000000")
MAX_DIAGNOSES = 50


def check_total(items: Sequence[FeeItemIn]) -> None:
    """A bill's total stays within ``MAX_BILL_TOTAL`` (a ``ValueError`` otherwise)."""
    total = sum((i.unit_price * i.quantity for i in items), Decimal(0))
    if total > MAX_BILL_TOTAL:
        raise ValueError(f"the bill total must not exceed {MAX_BILL_TOTAL}")


def _unit_price(value: Any) -> Decimal:
    amount = parse_money(value)
    if amount > MAX_UNIT_PRICE:
        raise ValueError(f"must not exceed {MAX_UNIT_PRICE}")
    return amount


# Plain in-range values take ``decimal_parser``'s short path; anything else (and every error)
# goes through the full parser (``_unit_price`` or ``parse_decimal``).
UnitPrice = Annotated[
    Decimal,
    BeforeValidator(decimal_parser(places=2, maximum=MAX_UNIT_PRICE, fallback=_unit_price)),
]
Quantity = Annotated[
    Decimal,
    BeforeValidator(decimal_parser(places=4, maximum=MAX_QUANTITY, positive=True)),
]
Ratio = Annotated[
    Decimal,
    BeforeValidator(decimal_parser(places=4, maximum=Decimal(1), positive=False)),
]
ItemCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control),
]
ItemName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_no_control),
]
Diagnosis = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        min_length=3,
        max_length=16,
        pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z+]{1,12})?$",
    ),
]
DiagnosisName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_no_control),
]


class DiagnosisIn(Strict):
    """A diagnosis (诊断) with its name as the hospital records it: ``code`` the ICD-10 code
    (疾病诊断代码, e.g. ``I21.9``), ``name`` its name (诊断名称, e.g. ``急性心肌梗死``,
    optional, 1–128 characters, printed on the receipt)."""

    code: Diagnosis
    name: DiagnosisName | None = None


_DIAGNOSIS_CODE: TypeAdapter[str] = TypeAdapter(Diagnosis)


def _diagnosis_entry(value: Any) -> Any:
    """One entry of ``visit.diagnoses``: a bare code (its errors name the entry itself,
    ``visit.diagnoses[0]``) or a ``{"code", "name"}`` object (its errors name the member,
    ``visit.diagnoses[0].name``)."""
    if isinstance(value, str):
        try:
            code = _DIAGNOSIS_CODE.validate_python(value)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from None
        return DiagnosisIn.model_construct(code=code, name=None)
    if isinstance(value, dict | DiagnosisIn):
        return value
    raise ValueError('must be an ICD-10 code or an object {"code", "name"}')


DiagnosisEntry = Annotated[
    DiagnosisIn,
    BeforeValidator(_diagnosis_entry, json_schema_input_type=Diagnosis | DiagnosisIn),
]
_VISIT_DATE: TypeAdapter[date] = TypeAdapter(PastDate)


class FeeItemIn(Strict):
    """One fee line (费用明细). ``amount``, when sent, must equal ``unit_price × quantity``
    rounded to the fen. ``category``: A 甲类, B 乙类 (a "pay first" part, ``self_pay_ratio`` or
    the policy default), C 丙类 (fully self-paid). ``price_cap``: the item's price limit."""

    code: ItemCode
    name: ItemName
    category: Literal["A", "B", "C"]
    unit_price: UnitPrice = Field(json_schema_extra={"examples": ["1200.00"]})
    quantity: Quantity = Field(json_schema_extra={"examples": ["2"]})
    amount: Money | None = None
    self_pay_ratio: Ratio | None = None
    price_cap: Money | None = None


class VisitIn(Strict):
    """``admitted_on`` is the admission date (visit date for outpatients); ``discharged_on``
    picks the policy and the year of the running totals (outpatients: defaults to
    ``admitted_on``). An outpatient visit may send ``visit_date`` (就诊日期) instead: it stands
    for both dates, and where either is sent too it must be the same day (else a 422 naming
    ``visit.visit_date``); an inpatient visit sends ``admitted_on`` and ``discharged_on``
    (``visit_date`` there is a 422). ``diagnoses``: ICD-10 codes, or ``{"code", "name"}``
    objects where the name is known (mixed in one list); the bill answers the codes in
    ``diagnoses`` and the names in ``diagnoses_detail``. ``interim``: an interim settlement
    (中途结算) of an inpatient stay that goes on — the visit stays open for further parts, the
    last one sent without ``interim``; for an interim part ``discharged_on`` is the day the part
    is settled up to."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: _admitted_on_optional(schema),
    )

    visit_id: VisitId
    type: Literal["inpatient", "outpatient"]
    admitted_on: PastDate = Field(
        description="Admission date; visit date of an outpatient visit. An outpatient visit "
        "may send `visit_date` instead."
    )
    discharged_on: PastDate | None = Field(default=None, validate_default=True)
    diagnoses: list[DiagnosisEntry] = Field(default_factory=list, max_length=MAX_DIAGNOSES)
    interim: bool = False
    visit_date: PastDate | None = Field(
        default=None,
        exclude=True,
        description="Outpatient visits: the visit date (就诊日期), standing for `admitted_on` "
        "and `discharged_on` (both, when sent too, must be the same day).",
    )

    @model_validator(mode="before")
    @classmethod
    def _dates_from_visit_date(cls, data: Any) -> Any:
        # ``visit_date`` stands for ``admitted_on`` when that is left out (and then for a
        # missing ``discharged_on`` too; with ``admitted_on`` sent, an outpatient's discharge
        # defaults to it as ever). Its own checks come below, with the other fields known; an
        # unreadable one fills nothing and is reported on its own field.
        if not isinstance(data, dict) or data.get("visit_date") is None:
            return data
        try:
            day = _VISIT_DATE.validate_python(data["visit_date"])
        except ValidationError:
            return data
        filled = dict(data)
        if filled.get("admitted_on") is None:
            filled["admitted_on"] = day
            if filled.get("discharged_on") is None:
                filled["discharged_on"] = day
        return filled

    @field_validator("interim", mode="after")
    @classmethod
    def _interim(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("type") == "outpatient":
            raise ValueError("only an inpatient stay is settled in parts")
        return value

    @field_validator("discharged_on", mode="after")
    @classmethod
    def _discharge(cls, value: date | None, info: ValidationInfo) -> date | None:
        admitted = info.data.get("admitted_on")
        if value is None:
            if info.data.get("type") == "inpatient":
                raise ValueError("is required for an inpatient visit")
            return admitted if isinstance(admitted, date) else None
        if isinstance(admitted, date) and value < admitted:
            if info.data.get("type") == "outpatient":  # the date may have come as visit_date
                raise ValueError("must not be before admitted_on (or visit_date)")
            raise ValueError("must not be before admitted_on")
        return value

    @field_validator("visit_date", mode="after")
    @classmethod
    def _visit_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        if info.data.get("type") == "inpatient":
            raise ValueError(
                "is for an outpatient visit; an inpatient visit sends admitted_on and discharged_on"
            )
        for name in ("admitted_on", "discharged_on"):
            other = info.data.get(name)
            if isinstance(other, date) and other != value:
                raise ValueError(
                    f"must be the same day as {name} ({other.isoformat()}) when both are sent"
                )
        return value

    @field_serializer("diagnoses")
    def _diagnoses_out(self, diagnoses: list[DiagnosisIn]) -> list[str | dict[str, str]]:
        # A bare code serialises as the code: a request's fingerprint (``request_hash``) is
        # the one it had before names could be sent.
        return [d.code if d.name is None else {"code": d.code, "name": d.name} for d in diagnoses]

    @property
    def bill_date(self) -> date:
        """The date that picks the policy and the running-total year."""
        return self.discharged_on or self.admitted_on

    @property
    def diagnosis_codes(self) -> list[str]:
        """The ICD-10 codes of ``diagnoses``, in order."""
        return [d.code for d in self.diagnoses]

    @property
    def diagnosis_names(self) -> list[str | None] | None:
        """The names of ``diagnoses`` in order (``None`` where not sent), or ``None`` when no
        diagnosis has one."""
        names = [d.name for d in self.diagnoses]
        return names if any(name is not None for name in names) else None


def _admitted_on_optional(schema: dict[str, Any]) -> None:
    # ``admitted_on`` may be left out when ``visit_date`` is sent.
    required = schema.get("required")
    if isinstance(required, list) and "admitted_on" in required:
        required.remove("admitted_on")


class SettleRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "patient": {"id_number": EXAMPLE_ID_NUMBER, "name": "张三"},
                    "visit": {
                        "visit_id": "ZY20260001",
                        "type": "inpatient",
                        "admitted_on": "2026-03-02",
                        "discharged_on": "2026-03-12",
                        "diagnoses": ["J18.900"],
                    },
                    "items": [
                        {
                            "code": "310100001",
                            "name": "床位费",
                            "category": "A",
                            "unit_price": "60.00",
                            "quantity": 10,
                        },
                        {
                            "code": "XJ01CAA",
                            "name": "头孢呋辛注射液",
                            "category": "B",
                            "unit_price": "38.50",
                            "quantity": "20",
                            "self_pay_ratio": "0.10",
                        },
                        {
                            "code": "250301",
                            "name": "CT检查",
                            "category": "A",
                            "unit_price": 280,
                            "quantity": 1,
                            "price_cap": "250.00",
                        },
                        {
                            "code": "Z0001",
                            "name": "营养餐",
                            "category": "C",
                            "unit_price": "25.00",
                            "quantity": 10,
                            "amount": "250.00",
                        },
                    ],
                }
            ]
        },
    )

    patient: PatientIn
    visit: VisitIn
    items: list[FeeItemIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="The fee lines. Omitted: the visit's uploaded, not yet settled fee details "
        "(`POST /v1/visits/{visit_id}/fee-details`) are settled.",
    )

    @field_validator("items", mode="after")
    @classmethod
    def _total(cls, items: list[FeeItemIn] | None) -> list[FeeItemIn] | None:
        if items is not None:
            check_total(items)
        return items


class RevokeRequest(Strict):
    reason: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=200),
            AfterValidator(_no_control),
        ]
        | None
    ) = None


class FundRowOut(BaseModel):
    """One ``setldetail`` row. ``crt_payb_lmt_amt``: what the fund could still pay before this
    bill (``null``: no limit)."""

    fund_pay_type: str
    fund_pay_type_name: str
    setlinfo_field: Literal["hifp_pay", "hifmi_pay", "maf_pay", "oth_pay"]
    inscp_scp_amt: Money
    crt_payb_lmt_amt: Money | None
    fund_payamt: Money
    setl_proc_info: str


MoneyText = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["600.00"]}),
]
"""An amount in yuan with two decimals, as text: a line's amounts are exact engine results
(to the fen), written once as decimal text when the bill's lines are stored."""


class FeeLineOut(BaseModel):
    """One fee line as settled, like the output of the national fee-detail upload (2204 /
    2301): the line's charge level ``chrgitm_lv`` (01 甲类, 02 乙类, 03 丙类), the self-pay
    ratio applied ``selfpay_prop`` (0 for 甲类, 1 for 丙类), the price cap ``pric_uplmt_amt``,
    its amount ``det_item_fee_sumamt`` and how it splits: ``fulamt_ownpay_amt`` (fully
    self-paid), ``overlmt_amt`` (above the cap), ``preselfpay_amt`` (乙类 pay-first part),
    ``inscp_scp_amt`` (in scope); the four add up to the amount, and over the lines to the
    bill's ``setlinfo`` parts.

    ``source``: ``catalogue`` — the insurer's catalogue classified the line by the version of
    ``med_list_codg`` (the national code the hospital's ``code`` maps to) valid on the bill
    date, whatever the hospital declared (``declared_category``); ``unlisted`` — a catalogue is
    loaded but the code is not in it (or has no version on that date): fully self-paid, with a
    ``note``; ``declared`` — no catalogue is loaded, the hospital's category, ratio and cap
    count."""

    code: str
    name: str
    med_list_codg: str | None
    source: Literal["catalogue", "declared", "unlisted"]
    declared_category: Literal["A", "B", "C"]
    chrgitm_lv: Literal["01", "02", "03"]
    selfpay_prop: str = Field(json_schema_extra={"examples": ["0.1"]})
    pric_uplmt_amt: MoneyText | None
    det_item_fee_sumamt: MoneyText
    fulamt_ownpay_amt: MoneyText
    overlmt_amt: MoneyText
    preselfpay_amt: MoneyText
    inscp_scp_amt: MoneyText
    note: str | None = None


_EXAMPLE_BILL: dict[str, Any] = {
    "setl_id": "S20260312083015123456a1b2c3",
    "status": "settled",
    "hospital_code": "H370305001",
    "visit_id": "ZY20260001",
    "visit_type": "inpatient",
    "admitted_on": "2026-03-02",
    "discharged_on": "2026-03-12",
    "diagnoses": ["J18.900"],
    "setl_time": "2026-03-12T00:30:15.123456Z",
    "setl_date": "2026-03-12",
    "revoked_at": None,
    "policy_version": "2020",
    "hospital_level": 2,
    "patient": {
        "id_number_masked": EXAMPLE_ID_MASKED,
        "name": "张三",
        "aid_class": "key",
        "categories": ["registered_poor"],
        "registered": True,
        "eligibility_on": "2026-03-02",
        "eligibility_source": "admission",
    },
    "medfee_sumamt": "2100.00",
    "fulamt_ownpay_amt": "250.00",
    "overlmt_selfpay": "30.00",
    "preselfpay_amt": "77.00",
    "inscp_scp_amt": "1743.00",
    "act_pay_dedc": "250.00",
    "hifp_pay": "1119.75",
    "hifmi_pay": "0.00",
    "maf_pay": "261.66",
    "oth_pay": "0.00",
    "fund_pay_sumamt": "1381.41",
    "psn_cash_pay": "718.59",
    "setldetail": [
        {
            "fund_pay_type": "390100",
            "fund_pay_type_name": "城乡居民基本医疗保险基金",
            "setlinfo_field": "hifp_pay",
            "inscp_scp_amt": "1743.00",
            "crt_payb_lmt_amt": "200000.00",
            "fund_payamt": "1119.75",
            "setl_proc_info": "…",
        },
        {
            "fund_pay_type": "610100",
            "fund_pay_type_name": "医疗救助基金",
            "setlinfo_field": "maf_pay",
            "inscp_scp_amt": "373.25",
            "crt_payb_lmt_amt": "60000.00",
            "fund_payamt": "261.66",
            "setl_proc_info": "…",
        },
    ],
    "trace": [{"step": "scope", "medfee_sumamt": "2100.00"}],
    "lines": [
        {
            "code": "310100001",
            "name": "床位费",
            "med_list_codg": "001102000010000-110200001",
            "source": "catalogue",
            "declared_category": "A",
            "chrgitm_lv": "01",
            "selfpay_prop": "0",
            "pric_uplmt_amt": None,
            "det_item_fee_sumamt": "600.00",
            "fulamt_ownpay_amt": "0.00",
            "overlmt_amt": "0.00",
            "preselfpay_amt": "0.00",
            "inscp_scp_amt": "600.00",
            "note": None,
        }
    ],
    "refd_setl_flag": 0,
    "reversal": None,
    "diagnoses_detail": [{"code": "J18.900", "name": "肺炎"}],
    "receipt_url": "https://medaid.example.org/v1/receipts/S20260312083015123456a1b2c3"
    "?token=1773361815.Vb1Jq0Zb2c9VQm3hH0zq8e8o3sGzq2bA9rOqgBfC3Lk",
    "flags": [],
}


class DiagnosisOut(BaseModel):
    """A bill's diagnosis: ``code`` (ICD-10) and ``name`` (``null`` where not sent)."""

    code: str
    name: str | None = None


class ReversalOut(BaseModel):
    """The record a revoke added to the books (冲销记录): its own ``setl_id``, time and local
    settlement date (the day of the revoke), ``refd_setl_flag`` 1, every amount the negative
    of the bill's. The bill keeps its own date and amounts."""

    setl_id: str
    setl_time: Timestamp
    setl_date: date
    refd_setl_flag: Literal[1] = 1


class BillOut(BaseModel):
    """A bill: the national interface's ``setlinfo`` amounts at the top level, ``setldetail``
    rows, the patient with the eligibility used, and a step-by-step ``trace``.

    Invariants, to the fen: ``medfee_sumamt = fund_pay_sumamt + psn_cash_pay``;
    ``fund_pay_sumamt = Σ setldetail.fund_payamt = hifp_pay + hifmi_pay + maf_pay + oth_pay``.
    A preview has ``status: "preview"`` and no ``setl_id``. ``setl_date`` is the local date the
    bill is booked on; ``refd_setl_flag`` (national 退费结算标志) is 0 on a bill. A revoked bill
    carries its ``reversal``: the record, dated on the day of the revoke, that takes the bill
    back out of the books. ``lines``: each fee line as it was classified and split, in the
    request's order (null for a bill stored before per-line results)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_BILL]})

    setl_id: str | None
    status: Literal["preview", "settled", "revoked"]
    hospital_code: str
    visit_id: str
    visit_type: Literal["inpatient", "outpatient"]
    admitted_on: date
    discharged_on: date
    diagnoses: list[str]
    setl_time: Timestamp | None
    revoked_at: Timestamp | None
    policy_version: str
    hospital_level: int
    patient: PatientOut
    medfee_sumamt: Money
    fulamt_ownpay_amt: Money
    overlmt_selfpay: Money
    preselfpay_amt: Money
    inscp_scp_amt: Money
    act_pay_dedc: Money
    hifp_pay: Money
    hifmi_pay: Money
    maf_pay: Money
    oth_pay: Money
    fund_pay_sumamt: Money
    psn_cash_pay: Money
    setldetail: list[FundRowOut]
    trace: list[dict[str, str]]
    setl_date: date | None = None
    refd_setl_flag: Literal[0] = 0
    reversal: ReversalOut | None = None
    diagnoses_detail: list[DiagnosisOut] = Field(
        default_factory=list,
        description="The diagnoses of `diagnoses`, in the same order, each with its name "
        "(`null` where the hospital sent only the code).",
    )
    receipt_url: str | None = Field(
        default=None,
        description="A link that opens this bill's printable receipt in a browser without a "
        "Bearer header (`GET /v1/receipts/{setl_id}?token=…`), for `SETTLEMENT_RECEIPT_TTL_S` "
        "seconds (24 h by default) from this answer, and nothing else. Absolute under "
        "`SETTLEMENT_PUBLIC_URL` when that is set, else a path from the service's root. A "
        "preview has none.",
    )
    lines: list[FeeLineOut] | None = None
    flags: list[BillFlagOut] = Field(
        default_factory=list,
        description="Supervision rules that fired on the bill (智能审核提示); the bill is "
        "settled all the same. Only the bill's own hospital (and administrators) see them.",
    )


class BillPage(BaseModel):
    """A page of bills, oldest first; pass ``next_after`` as ``after`` for the next page."""

    items: list[BillOut]
    next_after: str | None


__all__ = [
    "MAX_ITEMS",
    "BillOut",
    "BillPage",
    "DiagnosisIn",
    "DiagnosisOut",
    "FeeItemIn",
    "FeeLineOut",
    "FundRowOut",
    "Name",
    "ReversalOut",
    "RevokeRequest",
    "SettleRequest",
    "VisitIn",
]
