"""Households in the API: members and the full status history."""

from __future__ import annotations

from pydantic import BaseModel, Field

from registry.statuses.schemas import StatusPublic


class MemberPublic(BaseModel):
    id_number_masked: str
    name: str
    relation: str
    statuses: list[StatusPublic] = Field(description="The member's own (person-level) periods")


class HouseholdPublic(BaseModel):
    household_code: str
    region_code: str
    statuses: list[StatusPublic] = Field(
        description="Household-level periods; they apply to every member"
    )
    members: list[MemberPublic]
