"""``/v1/visits/{visit_id}/fee-details``: upload a visit's fee lines in batches (like 2204 /
2301), list them, withdraw open ones (2205 / 2302). A settle without ``items`` settles them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from settlement.deps import FeeDetailsDep, HospitalDep
from settlement.fee_details.schemas import FeeDetailsOut, FeeDetailUpload
from settlement.schemas import VisitId
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/visits", tags=["fee details"])

VisitPath = Annotated[VisitId, Path(description="The HIS's visit id (`visit.visit_id`)")]


@router.post(
    "/{visit_id}/fee-details",
    status_code=status.HTTP_201_CREATED,
    response_model=FeeDetailsOut,
    summary="Upload a batch of fee lines (like 2204 / 2301)",
    responses=problem_responses(401, 403, 409, 422),
)
async def upload_fee_details(
    visit_id: VisitPath, body: FeeDetailUpload, hospital: HospitalDep, fee_details: FeeDetailsDep
) -> FeeDetailsOut:
    """Stores up to 2,000 lines per call (all or nothing); a serial (`feedetl_sn`) the visit
    already has is a 409. `POST /v1/settlements` without `items` then settles every open
    line of the visit (an interim part settles those sent so far)."""
    return await fee_details.upload(hospital, visit_id, body)


@router.get(
    "/{visit_id}/fee-details",
    response_model=FeeDetailsOut,
    summary="The visit's uploaded fee lines",
    responses=problem_responses(401, 403),
)
async def list_fee_details(
    visit_id: VisitPath, hospital: HospitalDep, fee_details: FeeDetailsDep
) -> FeeDetailsOut:
    return await fee_details.listing(hospital, visit_id)


@router.delete(
    "/{visit_id}/fee-details",
    response_model=FeeDetailsOut,
    summary="Withdraw open fee lines (like 2205 / 2302)",
    responses=problem_responses(401, 403, 422),
)
async def withdraw_fee_details(
    visit_id: VisitPath,
    hospital: HospitalDep,
    fee_details: FeeDetailsDep,
    feedetl_sn: Annotated[
        list[str] | None, Query(max_length=2000, description="These serials; none: every open line")
    ] = None,
) -> FeeDetailsOut:
    """Lines already settled stay (revoke the bill to reopen them)."""
    return await fee_details.withdraw(hospital, visit_id, feedetl_sn)
