"""Recording an admission with the eligibility on the admission date."""

from __future__ import annotations

import json
from typing import Any, cast

from settlement.accumulators.service import limits_for
from settlement.admissions import repository
from settlement.admissions.schemas import AdmissionOut, AdmissionRequest
from settlement.audit.repository import append
from settlement.context import AppContext
from settlement.database import AnyRow, dump_json, utcnow
from settlement.engine import NoPolicyInForce, Policy
from settlement.hospitals.repository import HospitalRef
from settlement.schemas import PatientOut
from settlement.settlements.service import policy_for
from shared.errors import Conflict
from shared.idnumber import mask_id_number


async def _answer(ctx: AppContext, hospital: HospitalRef, row: AnyRow) -> AdmissionOut:
    policy: Policy
    try:
        policy = ctx.policies.by_version(row.policy_version)
    except NoPolicyInForce:
        policy = policy_for(ctx, row.admitted_on, "visit.admitted_on")
    aid_class = cast(Any, row.aid_class)
    limits, _, _ = await limits_for(ctx, policy, row.id_number, row.admitted_on.year, aid_class)
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
        limits=limits,
        recorded_at=row.created_at,
    )


def _same_patient(row: AnyRow, req: AdmissionRequest) -> None:
    if row.id_number != req.patient.id_number:
        raise Conflict(
            f"Visit {req.visit.visit_id!r} is already recorded for another patient "
            f"({mask_id_number(row.id_number)})."
        )


async def admit(
    ctx: AppContext, hospital: HospitalRef, req: AdmissionRequest, request_id: str | None
) -> tuple[AdmissionOut, bool]:
    """Record the admission (once per visit); ``(answer, created)``. Recording the same visit
    again returns the first record."""
    async with ctx.db.read() as conn:
        existing = await repository.get(conn, hospital.id, req.visit.visit_id)
    if existing is not None:
        _same_patient(existing, req)
        return await _answer(ctx, hospital, existing), False
    on = req.visit.admitted_on
    policy = policy_for(ctx, on, "visit.admitted_on")
    answer = await ctx.registry.eligibility(req.patient.id_number, on, request_id=request_id)
    categories = list(answer.categories) if answer is not None else []
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
        "registered": answer is not None,
        "aid_class": aid_class,
        "policy_version": policy.version,
        "deposit_free": aid_class in policy.deposit_free_classes,
        "created_at": utcnow(),
        "request_id": request_id,
    }
    async with ctx.db.write() as conn:
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
            )
        row = await repository.get(conn, hospital.id, req.visit.visit_id)
    assert row is not None
    if not created:
        _same_patient(row, req)
    return await _answer(ctx, hospital, row), created
