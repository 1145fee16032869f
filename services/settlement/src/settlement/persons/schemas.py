"""A person's running totals for a year (like the national 5206)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from settlement.grants.schemas import GrantOut
from settlement.schemas import EXAMPLE_ID_MASKED, FundLimitOut
from shared.money import Money


class AccumulatorsOut(BaseModel):
    """``funds``: per fund what it has paid the person this year and may still pay, for the
    aid class the registry gives on ``on``. ``totals``: the raw running totals (decimal
    strings), equal to the sum over the person's settled, unrevoked bills of the year."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id_number_masked": EXAMPLE_ID_MASKED,
                    "year": 2026,
                    "on": "2026-11-28",
                    "aid_class": "key",
                    "categories": ["registered_poor"],
                    "registered": True,
                    "policy_version": "2020",
                    "settled_bills": 2,
                    "funds": [
                        {
                            "fund_pay_type": "390200",
                            "fund_pay_type_name": "城乡居民大病医疗保险基金",
                            "visit_type": None,
                            "paid_this_year": "120000.00",
                            "annual_limit": "500000.00",
                            "remaining": "380000.00",
                        }
                    ],
                    "totals": {"390200": "120000.00", "390200.base": "260000.00"},
                    "grants": [],
                }
            ]
        }
    )

    id_number_masked: str
    year: int
    on: date
    aid_class: Literal["key", "assisted", "none"]
    categories: list[str]
    registered: bool
    policy_version: str
    settled_bills: int
    funds: list[FundLimitOut]
    to_be_absorbed: dict[str, Money] = Field(
        default_factory=dict,
        description="Per cumulative fund (by `fund_pay_type`): what it has paid this year "
        "beyond what it owes on the year's base, left by revoking an earlier bill of the year; "
        "the next bills of the year pay that much less from the fund. Empty: nothing to absorb.",
    )
    totals: dict[str, str]
    grants: list[GrantOut]
