"""Registering a designated hospital; the answer carries its API key once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from settlement.schemas import Strict, _no_control
from shared.timestamps import Timestamp

HospitalCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    ),
]
RegionCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}(\d{6})?$")]
HospitalName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_no_control),
]


class HospitalCreate(Strict):
    """``level``: hospital grade 1, 2 or 3 (一级/二级/三级), which sets deductibles and ratios.
    ``region_code``: the 6-digit (or 12-digit) administrative division code."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "H370305001",
                    "name": "临淄区人民医院",
                    "level": 2,
                    "region_code": "370305",
                }
            ]
        },
    )

    code: HospitalCode
    name: HospitalName
    level: Literal[1, 2, 3]
    region_code: RegionCode


class HospitalOut(BaseModel):
    code: str
    name: str
    level: int
    region_code: str
    created_at: Timestamp


class HospitalCreated(HospitalOut):
    """``api_key`` is shown once; only its hash is stored. The HIS sends it as
    ``Authorization: Bearer <api_key>``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "H370305001",
                    "name": "临淄区人民医院",
                    "level": 2,
                    "region_code": "370305",
                    "created_at": "2026-11-28T08:00:00Z",
                    "api_key": "mk_3qN0…",
                }
            ]
        }
    )

    api_key: str
