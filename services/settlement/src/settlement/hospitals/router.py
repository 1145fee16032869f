"""``POST /v1/hospitals`` (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status

from settlement.deps import AdminDep, DatabaseDep, RequestIdDep
from settlement.hospitals.schemas import HospitalCreate, HospitalCreated
from settlement.hospitals.service import create_hospital
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/hospitals", tags=["hospitals"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=HospitalCreated,
    summary="Register a designated hospital (admin)",
    responses=problem_responses(401, 403, 409, 422),
)
async def register_hospital(
    body: HospitalCreate, admin: AdminDep, db: DatabaseDep, request_id: RequestIdDep
) -> HospitalCreated:
    """Registers a hospital and returns its API key **once** (only a hash is stored). The same
    as `medaid-settlement hospital add`."""
    return await create_hospital(db, body, actor=admin.actor, request_id=request_id)
