"""Persons in the API: eligibility on a date, and the person with their status history."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from registry.categories import Category
from registry.statuses.schemas import StatusPublic


class Eligibility(BaseModel):
    """What the settlement service asks: which categories a person holds on a date."""

    id_number_masked: str = Field(examples=["370305********1234"])
    name: str
    household_code: str
    region_code: str
    categories: list[Category] = Field(
        description="Categories active on the date, the person's own and their household's; "
        "sorted, each once; empty when none is active"
    )
    registered: bool = Field(description="Always true: the person is in the registry")
    on: date
    valid_from: date | None = Field(
        description="First day (inclusive) of the span around ``on`` over which this same "
        "answer holds (the last start or end of a period applying to the person on or before "
        "``on``); null when there is none: the same answer on every earlier date"
    )
    valid_to: date | None = Field(
        description="Last day (inclusive) of that span (the day before the next start or end "
        "of a period after ``on``); null when there is none: open-ended"
    )


class PersonPublic(BaseModel):
    """A person and every status period that applies or applied to them (their own and
    their household's, ``level`` telling which), ordered by start date."""

    id_number_masked: str
    name: str
    relation: str
    household_code: str
    region_code: str
    statuses: list[StatusPublic]
