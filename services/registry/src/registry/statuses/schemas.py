"""Status periods in the API: adding one, ending one, and how one is shown."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from registry.categories import CATEGORY_NAMES, Category, Level
from registry.fields import NOTE_MAX, REASON_MAX, IsoDate
from shared.idnumber import mask_id_number
from shared.timestamps import Timestamp

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=REASON_MAX)
]


class StatusCreate(BaseModel):
    """A new status period. A household-level category (registered_poor, dibao, low_income)
    is recorded on the person's household and applies to every member."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    effective_from: IsoDate = Field(description="First day the status holds (YYYY-MM-DD)")
    effective_to: IsoDate | None = Field(
        default=None, description="Last day the status holds (inclusive); omit for open"
    )
    note: Note | None = Field(default=None, description="Free text, e.g. the decision number")

    @field_validator("effective_to")
    @classmethod
    def _not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("effective_from")
        if value is not None and isinstance(start, date) and value < start:
            raise ValueError("must not be before effective_from")
        return value


class StatusEnd(BaseModel):
    """The end of a period: its last day and why (脱贫 poverty exit, 销号 removal, other)."""

    model_config = ConfigDict(extra="forbid")

    effective_to: IsoDate = Field(description="Last day the status holds (inclusive)")
    reason: Reason = Field(description='"脱贫", "销号" or other text', examples=["脱贫"])


class StatusPublic(BaseModel):
    """A status period as recorded. ``level`` says whether it belongs to the person or to
    the whole household (``id_number_masked`` is then null)."""

    id: int
    category: Category
    category_name: str = Field(description="The category's Chinese name, e.g. 低保")
    level: Level
    household_code: str
    id_number_masked: str | None
    effective_from: date
    effective_to: date | None = Field(description="Last day (inclusive); null = open")
    note: str | None
    recorded_at: Timestamp
    recorded_by: str
    ended_at: Timestamp | None = Field(description="When the end was recorded, if it was")
    ended_by: str | None
    end_reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> StatusPublic:
        """From a ``status_periods`` row joined with its household code and person's ID."""
        category: Category = row.category
        return cls(
            id=row.id,
            category=category,
            category_name=CATEGORY_NAMES[category],
            level="person" if row.person_id is not None else "household",
            household_code=row.household_code,
            id_number_masked=mask_id_number(row.id_number) if row.person_id is not None else None,
            effective_from=row.effective_from,
            effective_to=row.effective_to,
            note=row.note,
            recorded_at=row.created_at,
            recorded_by=row.created_by,
            ended_at=row.ended_at,
            ended_by=row.ended_by,
            end_reason=row.end_reason,
        )
