"""Policy what-if: a candidate policy costed against the settled bills of a period."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from settlement.schemas import IsoDate, Strict
from shared.money import SignedMoney

MAX_SIMULATION_DAYS = 366
MAX_POLICY_CHARS = 200_000

START_RULE = (
    "Running totals start from zero at the start of each person's year; the person's bills "
    "and reversals of that year before the period are re-run under the candidate too, in the "
    "order they were made, so the period starts from the totals the candidate would have "
    "produced."
)


class SimulateRequest(Strict):
    """A candidate policy (the policy file format, TOML text) and a period of settlement
    dates (local, both ends included; at most 366 days)."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "policy": 'version = "2027-draft"\neffective_from = 2027-01-01\n...',
                    "from": "2026-01-01",
                    "to": "2026-12-31",
                }
            ]
        },
    )

    policy: Annotated[str, StringConstraints(min_length=1, max_length=MAX_POLICY_CHARS)]
    from_: IsoDate = Field(alias="from")
    to: IsoDate


class Comparison(BaseModel):
    """An amount under the policy in force (the stored records) and under the candidate, net
    of the period's reversals; ``difference`` = candidate − in force (signed, two
    decimals)."""

    in_force: SignedMoney
    candidate: SignedMoney
    difference: str


class FundComparison(Comparison):
    fund_pay_type: str
    fund_pay_type_name: str


class SimulationResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    candidate_version: str
    policies_in_force: list[str] = Field(description="Policy versions the stored bills used")
    bills: int = Field(
        description="Records of the period: the bills settled in it and the reversals of the "
        "revokes made in it"
    )
    reversals: int = Field(default=0, description="Of `bills`, the reversals")
    replayed_bills: int = Field(
        description="Records re-run: those of the period and, for their patients, the year's "
        "earlier records"
    )
    patients: int
    funds: list[FundComparison]
    fund_pay_sumamt: Comparison
    psn_cash_pay: Comparison
    patients_paying_more: int
    patients_paying_less: int
    patients_paying_same: int
    start: str = Field(description="How the running totals start")
