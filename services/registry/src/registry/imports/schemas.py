"""What ``POST /v1/imports`` answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Counts(BaseModel):
    created: int = Field(description="New in the registry after this import")
    unchanged: int = Field(description="Already in the registry exactly as in the file")


class PersonCounts(Counts):
    updated: int = Field(description="Registered persons whose name or relation changed")


class PeriodCounts(Counts):
    closed: int = Field(
        description="Open periods in the registry that the file ends (effective_to filled in)"
    )


class ImportResult(BaseModel):
    """Counts of what the file created, changed or left unchanged (distinct households,
    persons and status periods; a household-level period repeated on several rows counts
    once)."""

    dry_run: bool = Field(description="True: the file was only validated; nothing was written")
    changed: bool = Field(description="True when this request wrote anything")
    import_id: int | None = Field(description="The import's record, when something was written")
    rows: int = Field(description="Data rows in the file (blank lines not counted)")
    households: Counts
    persons: PersonCounts
    periods: PeriodCounts
