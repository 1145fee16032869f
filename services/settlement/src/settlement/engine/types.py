"""Value types of the settlement engine: fee items in, bills and fund rows out.

Field names follow the national healthcare-security platform interface (``setlinfo`` /
``setldetail``) so a HIS integrator can map them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, NamedTuple

VisitType = Literal["inpatient", "outpatient"]
AidClass = Literal["key", "assisted", "none"]
Category = Literal["A", "B", "C"]
SetlinfoField = Literal["hifp_pay", "hifmi_pay", "maf_pay", "oth_pay"]

VISIT_TYPES: tuple[VisitType, ...] = ("inpatient", "outpatient")
AID_CLASSES: tuple[AidClass, ...] = ("key", "assisted", "none")
SETLINFO_FUND_FIELDS: tuple[SetlinfoField, ...] = ("hifp_pay", "hifmi_pay", "maf_pay", "oth_pay")

TEMPORARY_ASSISTANCE_KEY = "temporary_assistance"
"""Running total of the temporary-assistance grants paid on bills this year."""

LineSplit = tuple[Decimal, Decimal, Decimal, Decimal]
"""One fee item's parts after scope, in the order of ``LINE_SPLIT_FIELDS`` (each to the fen;
they add up to the item's amount)."""

LINE_SPLIT_FIELDS: tuple[str, str, str, str] = (
    "fulamt_ownpay_amt",  # 全自费金额: a C (丙类) item, or one outside the catalogue
    "overlmt_amt",  # 超限价金额: above the item's price cap
    "preselfpay_amt",  # 先行自付金额: the "pay first" part of a B (乙类) item
    "inscp_scp_amt",  # 符合政策范围金额: in scope
)
"""Names of a ``LineSplit``'s parts (the national fee-detail upload's output fields)."""

SETLINFO_FIELDS: tuple[str, ...] = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "hifmi_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_cash_pay",
)


class FeeItem(NamedTuple):
    """One line of a hospital bill (费用明细).

    ``category``: A (甲类), B (乙类) or C (丙类, fully self-paid). ``amount``, when given, must
    equal ``unit_price × quantity`` rounded to the fen. ``self_pay_ratio`` is the "pay first"
    ratio of a B item (default from the policy). ``price_cap`` is the item's price limit (限价).
    Amounts in yuan (``Decimal``).

    A named tuple rather than a frozen dataclass: immutable and compared field by field all
    the same, and about three times cheaper to make, which counts where every stored line of
    a year is rebuilt (the what-if: about 1.4 million lines per 100,000 bills). Change a
    field with ``item._replace(unit_price=…)``.
    """

    code: str
    name: str
    category: Category
    unit_price: Decimal
    quantity: Decimal
    amount: Decimal | None = None
    self_pay_ratio: Decimal | None = None
    price_cap: Decimal | None = None


@dataclass(frozen=True)
class FundDetail:
    """One ``setldetail`` row: what one fund paid on the bill and how."""

    fund_pay_type: str
    fund_pay_type_name: str
    setlinfo_field: SetlinfoField
    inscp_scp_amt: Decimal
    crt_payb_lmt_amt: Decimal | None  # still payable before this bill; None = no limit
    fund_payamt: Decimal
    setl_proc_info: str


@dataclass(frozen=True)
class FundLimit:
    """What a fund has paid a person this year and what it may still pay (person accumulators).

    The basic fund has one row per visit type (``visit_type`` set); an outpatient
    chronic-disease fund (门诊慢特病) one row per disease group (``group``: the group's id);
    other funds one row. ``annual_limit`` / ``remaining`` are None when the fund has no annual
    limit.
    """

    fund_pay_type: str
    fund_pay_type_name: str
    paid_this_year: Decimal
    annual_limit: Decimal | None
    remaining: Decimal | None
    visit_type: VisitType | None = None
    group: str | None = None


@dataclass(frozen=True)
class Bill:
    """A settled (or previewed) bill: ``setlinfo`` fields, ``setldetail`` rows, trace, deltas,
    and ``lines``: each fee item's split (``LINE_SPLIT_FIELDS``), one per item given to
    ``compute``, in order."""

    policy_version: str
    visit_type: VisitType
    aid_class: AidClass
    hospital_level: int
    medfee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_selfpay: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal
    act_pay_dedc: Decimal
    hifp_pay: Decimal
    hifmi_pay: Decimal
    maf_pay: Decimal
    oth_pay: Decimal
    fund_pay_sumamt: Decimal
    psn_cash_pay: Decimal
    setldetail: tuple[FundDetail, ...]
    trace: tuple[dict[str, str], ...]
    deltas: dict[str, Decimal]
    lines: tuple[LineSplit, ...] = ()

    def as_setlinfo(self) -> dict[str, Decimal]:
        """The ``setlinfo`` amounts of the bill, keyed by their interface names."""
        return {
            "medfee_sumamt": self.medfee_sumamt,
            "fulamt_ownpay_amt": self.fulamt_ownpay_amt,
            "overlmt_selfpay": self.overlmt_selfpay,
            "preselfpay_amt": self.preselfpay_amt,
            "inscp_scp_amt": self.inscp_scp_amt,
            "act_pay_dedc": self.act_pay_dedc,
            "hifp_pay": self.hifp_pay,
            "hifmi_pay": self.hifmi_pay,
            "maf_pay": self.maf_pay,
            "oth_pay": self.oth_pay,
            "fund_pay_sumamt": self.fund_pay_sumamt,
            "psn_cash_pay": self.psn_cash_pay,
        }
