"""Temporary-assistance grants (临时救助) recorded by the admin."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from settlement.schemas import EXAMPLE_ID_MASKED, EXAMPLE_ID_NUMBER, IsoDate, Strict, _no_control
from shared.idnumber import IdNumber
from shared.money import Money, parse_money
from shared.timestamps import Timestamp

MAX_GRANT = Decimal("1000000")


def _grant_amount(value: Any) -> Decimal:
    amount = parse_money(value)
    if amount <= 0:
        raise ValueError("must be greater than zero")
    if amount > MAX_GRANT:
        raise ValueError(f"must not exceed {MAX_GRANT}")
    return amount


class GrantCreate(Strict):
    """A one-off amount civil affairs approved for a person. At settlement, after the policy's
    tiers, an open grant (valid on the bill's discharge or visit date) pays the patient's
    remaining share up to its balance; revoking the bill gives the amount back."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id_number": EXAMPLE_ID_NUMBER,
                    "amount": "3000.00",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-12-31",
                    "reference": "临救〔2026〕017号",
                }
            ]
        },
    )

    id_number: IdNumber
    amount: Annotated[Decimal, BeforeValidator(_grant_amount)]
    valid_from: IsoDate
    valid_to: IsoDate
    reference: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        AfterValidator(_no_control),
    ]

    @field_validator("valid_to", mode="after")
    @classmethod
    def _range(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("valid_from")
        if isinstance(start, date) and value < start:
            raise ValueError("must not be before valid_from")
        return value


class GrantOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grant_id": 1,
                    "id_number_masked": EXAMPLE_ID_MASKED,
                    "amount": "3000.00",
                    "balance": "3000.00",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-12-31",
                    "reference": "临救〔2026〕017号",
                    "created_at": "2026-11-28T08:00:00Z",
                }
            ]
        }
    )

    grant_id: int
    id_number_masked: str
    amount: Money
    balance: Money
    valid_from: date
    valid_to: date
    reference: str
    created_at: Timestamp
