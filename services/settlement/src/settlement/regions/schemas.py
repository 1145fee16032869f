"""Regions: requests and answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from settlement.hospitals.schemas import RegionCode
from settlement.schemas import Strict, _no_control
from shared.timestamps import Timestamp

MAX_REGIONS = 5000

RegionName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control),
]


class RegionIn(Strict):
    """``code``: the 6-digit (or 12-digit) administrative division code; ``name``: its name
    as reports and the admin page show it."""

    code: RegionCode
    name: RegionName


class RegionsIn(Strict):
    """Regions to add or rename, all or nothing (a code listed twice is refused)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "regions": [
                        {"code": "370305", "name": "临淄区"},
                        {"code": "370303", "name": "张店区"},
                    ]
                }
            ]
        },
    )

    regions: list[RegionIn] = Field(min_length=1, max_length=MAX_REGIONS)


class RegionOut(BaseModel):
    code: str
    name: str
    updated_at: Timestamp


class RegionsChanged(BaseModel):
    added: int = Field(description="Codes that were not known")
    renamed: int = Field(description="Known codes whose name changed")
    unchanged: int = Field(description="Known codes listed with the name they already have")


class RegionList(BaseModel):
    items: list[RegionOut]
