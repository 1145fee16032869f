"""``POST /v1/grants`` (admin): temporary-assistance grants."""

from __future__ import annotations

from fastapi import APIRouter, status

from settlement.deps import AdminDep, DatabaseDep, RequestIdDep
from settlement.grants.schemas import GrantCreate, GrantOut
from settlement.grants.service import create_grant
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/grants", tags=["grants"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantOut,
    summary="Record a temporary-assistance grant (admin)",
    responses=problem_responses(401, 403, 409, 422),
)
async def record_grant(
    body: GrantCreate, admin: AdminDep, db: DatabaseDep, request_id: RequestIdDep
) -> GrantOut:
    """Records a one-off amount civil affairs approved for a person (临时救助). Bills of the
    person discharged between `valid_from` and `valid_to` draw on it after the policy's tiers,
    as their own `setldetail` row counted in `oth_pay`; a revoke gives the amount back.
    `reference` (the approval's document number) is unique."""
    return await create_grant(db, body, actor=admin.actor, request_id=request_id)
