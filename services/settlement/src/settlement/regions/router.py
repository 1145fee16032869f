"""``/v1/regions`` (admin): the names of the administrative divisions reports group by."""

from __future__ import annotations

from fastapi import APIRouter

from settlement.deps import AdminDep, DatabaseDep, RequestIdDep
from settlement.regions.schemas import RegionList, RegionsChanged, RegionsIn
from settlement.regions.service import list_regions, save_regions
from shared.errors import problem_responses

router = APIRouter(prefix="/v1/regions", tags=["regions"])


@router.post(
    "",
    response_model=RegionsChanged,
    summary="Add or rename regions (admin)",
    responses=problem_responses(401, 403, 422),
)
async def post_regions(
    body: RegionsIn, admin: AdminDep, db: DatabaseDep, request_id: RequestIdDep
) -> RegionsChanged:
    """Names for region codes (行政区划代码 → 名称), all or nothing: a new code is added, a
    known one takes the new name. Reports grouped by region and the admin page show the name
    (the code where none is known). The same as `medaid-settlement region add` and
    `region import FILE`."""
    return await save_regions(db, body.regions, actor=admin.actor, request_id=request_id)


@router.get(
    "",
    response_model=RegionList,
    summary="List the named regions (admin)",
    responses=problem_responses(401, 403),
)
async def get_regions(admin: AdminDep, db: DatabaseDep) -> RegionList:
    """Every region with a name, by code."""
    return await list_regions(db)
