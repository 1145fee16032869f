"""``POST /v1/admissions`` (like the national 2401)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from settlement.admissions.schemas import AdmissionOut, AdmissionRequest
from settlement.deps import AdmissionsDep, HospitalDep, RequestIdDep
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/admissions", tags=["admissions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AdmissionOut,
    summary="Record an admission; may the patient be treated first and pay later?",
    responses={
        200: {"model": AdmissionOut, "description": "The visit was already recorded"},
        **problem_responses(401, 403, 409, 422, 503),
    },
)
async def record_admission(
    body: AdmissionRequest,
    hospital: HospitalDep,
    admissions: AdmissionsDep,
    request_id: RequestIdDep,
    response: Response,
) -> AdmissionOut:
    """Asks the registry for the patient's status on the admission date and records it. The
    answer says whether the patient is treated first and pays later (no deposit), their aid
    class and what each fund can still pay them this year. The settle of this visit uses the
    eligibility recorded here. Recording the same visit again returns the first record (200)."""
    answer, created = await admissions.admit(hospital, body, request_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return answer
