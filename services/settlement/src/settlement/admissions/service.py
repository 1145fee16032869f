"""Recording an admission (入院登记, like 2401) with the eligibility on the admission date."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Protocol, cast

from settlement.accumulators import repository as accumulators
from settlement.admissions import repository
from settlement.admissions.schemas import AdmissionOut, AdmissionRequest
from settlement.audit.repository import append
from settlement.database import AnyRow, Database, dump_json, utcnow
from settlement.eligibility import EligibilityService
from settlement.engine import remaining_limits
from settlement.hospitals.repository import HospitalRef
from settlement.schemas import PatientOut, limits_out
from shared.errors import Conflict
from shared.idnumber import mask_id_number


def _same_patient(row: AnyRow, req: AdmissionRequest) -> None:
    if row.id_number != req.patient.id_number:
        raise Conflict(
            f"Visit {req.visit.visit_id!r} is already recorded for another patient "
            f"({mask_id_number(row.id_number)})."
        )


class StayCheck(Protocol):
    async def __call__(
        self, hospital: HospitalRef, id_number: str, visit_id: str, admitted_on: date
    ) -> None:
        """Raise a 409 when an inpatient admission falls inside another settled stay."""


class AdmissionService:
    """Admissions of the hospitals: built once in the app's lifespan. ``check_stay`` is the
    settlements' one-stay-at-a-time rule (a person is in one stay at a time)."""

    def __init__(
        self, db: Database, eligibility: EligibilityService, check_stay: StayCheck
    ) -> None:
        self.db = db
        self.eligibility = eligibility
        self.check_stay = check_stay

    async def _answer(self, hospital: HospitalRef, row: AnyRow) -> AdmissionOut:
        policy = self.eligibility.policy_of(
            row.policy_version, row.admitted_on, "visit.admitted_on"
        )
        aid_class = cast(Any, row.aid_class)
        async with self.db.read() as conn:
            totals = await accumulators.totals(conn, row.id_number, row.admitted_on.year)
        limits = remaining_limits(policy, aid_class=aid_class, totals=totals)
        return AdmissionOut(
            hospital_code=hospital.code,
            visit_id=row.visit_id,
            visit_type=row.visit_type,
            admitted_on=row.admitted_on,
            patient=PatientOut(
                id_number_masked=mask_id_number(row.id_number),
                name=row.patient_name,
                aid_class=aid_class,
                categories=json.loads(row.categories),
                registered=row.registered,
                eligibility_on=row.eligibility_on,
                eligibility_source="admission",
            ),
            deposit_free=row.deposit_free,
            policy_version=row.policy_version,
            limits=limits_out(limits),
            recorded_at=row.created_at,
        )

    async def admit(
        self, hospital: HospitalRef, req: AdmissionRequest, request_id: str | None
    ) -> tuple[AdmissionOut, bool]:
        """Record the admission (once per visit); ``(answer, created)``. Recording the same
        visit again returns the first record; for another patient it is a 409."""
        async with self.db.read() as conn:
            existing = await repository.get(conn, hospital.id, req.visit.visit_id)
        if existing is not None:
            _same_patient(existing, req)
            return await self._answer(hospital, existing), False
        on = req.visit.admitted_on
        if req.visit.type == "inpatient":
            await self.check_stay(hospital, req.patient.id_number, req.visit.visit_id, on)
        policy = self.eligibility.policy_for(on, "visit.admitted_on")
        answer = await self.eligibility.on_date(req.patient.id_number, on, request_id)
        categories = list(answer.categories)
        aid_class = policy.aid_class_for(categories)
        values = {
            "hospital_id": hospital.id,
            "visit_id": req.visit.visit_id,
            "visit_type": req.visit.type,
            "id_number": req.patient.id_number,
            "patient_name": req.patient.name,
            "admitted_on": on,
            "eligibility_on": on,
            "categories": dump_json(categories),
            "registered": answer.answer is not None,
            "aid_class": aid_class,
            "policy_version": policy.version,
            "deposit_free": aid_class in policy.deposit_free_classes,
            "created_at": utcnow(),
            "request_id": request_id,
        }
        async with self.db.write() as conn:
            created = await repository.insert_admission(conn, values)
            if created:
                await append(
                    conn,
                    actor=f"hospital:{hospital.code}",
                    action="admission",
                    subject=req.visit.visit_id,
                    request_id=request_id,
                    detail={
                        "aid_class": aid_class,
                        "categories": categories,
                        "deposit_free": values["deposit_free"],
                    },
                    person=req.patient.id_number,
                )
            row = await repository.get(conn, hospital.id, req.visit.visit_id)
        assert row is not None
        if not created:
            _same_patient(row, req)
        return await self._answer(hospital, row), created
