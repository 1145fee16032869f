"""What each fund has paid a person this year and can still pay (like the national 5206)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, cast

from settlement.bills import repository as bills
from settlement.database import Database
from settlement.eligibility import EligibilityService
from settlement.engine import remaining_limits, to_be_absorbed
from settlement.grants import repository as grants
from settlement.grants.service import grant_out
from settlement.hospitals.repository import HospitalRef
from settlement.inputs import person_year
from settlement.persons.schemas import AccumulatorsOut
from settlement.schemas import limits_out
from shared.errors import Forbidden, Unprocessable
from shared.idnumber import mask_id_number
from shared.money import money_str


def reference_date(year: int, tz_now: datetime) -> date:
    """The day whose eligibility and policy describe ``year``: today in the current year, the
    last day of a past year."""
    today = tz_now.date()
    return today if year >= today.year else date(year, 12, 31)


class PersonService:
    """The accumulators answer: built once in the app's lifespan."""

    def __init__(self, db: Database, eligibility: EligibilityService, local_tz: timezone) -> None:
        self.db = db
        self.eligibility = eligibility
        self.local_tz = local_tz

    async def accumulators(
        self,
        id_number: str,
        *,
        year: int | None,
        hospital: HospitalRef | None,
        request_id: str | None,
    ) -> AccumulatorsOut:
        """For the admin (``hospital`` None), or a hospital that has billed this person (403
        otherwise). The aid class (and so the limits) is the registry's for today, or for 31
        December of a past year; a future year is a 422; a registry outage a 503."""
        if hospital is not None:
            async with self.db.read() as conn:
                if not await bills.hospital_has_billed(conn, hospital.id, id_number):
                    raise Forbidden("This hospital has no bill for this person.")
        now = datetime.now(self.local_tz)
        year = year or now.year
        if year > now.year:
            raise Unprocessable.field("query.year", "must not be in the future")
        on = reference_date(year, now)
        policy = self.eligibility.policy_for(on, "query.year")
        answer = await self.eligibility.on_date(id_number, on, request_id)
        aid_class = policy.aid_class_for(answer.categories)
        async with self.db.read() as conn:
            year_inputs = await person_year(conn, id_number, year, on=on, lock=False)
            person_grants = await grants.for_person(conn, id_number)
        limits = remaining_limits(policy, aid_class=aid_class, totals=year_inputs.totals)
        return AccumulatorsOut(
            id_number_masked=mask_id_number(id_number),
            year=year,
            on=on,
            aid_class=cast(Any, aid_class),
            categories=list(answer.categories),
            registered=answer.answer is not None,
            policy_version=policy.version,
            settled_bills=year_inputs.bills or 0,
            funds=limits_out(limits),
            to_be_absorbed=to_be_absorbed(policy, aid_class=aid_class, totals=year_inputs.totals),
            totals={k: money_str(v) for k, v in sorted(year_inputs.totals.items())},
            grants=[grant_out(g) for g in person_grants],
        )
