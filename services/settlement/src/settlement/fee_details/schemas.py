"""Fee detail upload (like the national 2204 / 2301) and withdrawal (2205 / 2302)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from settlement.settlements.schemas import MAX_ITEMS, FeeItemIn
from shared.money import Money

MAX_OPEN_LINES = 50_000
"""Uploaded lines a visit may hold (a 60-day stay runs to about 20,000)."""

Serial = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[A-Za-z0-9._:-]+$"
    ),
]


class FeeDetailIn(FeeItemIn):
    """A fee line with the HIS's own serial (``feedetl_sn``, 费用明细流水号; given in upload
    order when absent)."""

    feedetl_sn: Serial | None = None


class FeeDetailUpload(BaseModel):
    """One batch of a visit's fee lines."""

    items: list[FeeDetailIn] = Field(min_length=1, max_length=MAX_ITEMS)


class FeeDetailLine(BaseModel):
    feedetl_sn: str
    code: str
    name: str
    amount: Money
    setl_id: str | None = Field(description="The bill that settled the line; null while open")


class FeeDetailsOut(BaseModel):
    """The visit's lines after the call: ``lines`` (this batch's, or all for a listing),
    ``open_lines`` still to settle, ``withdrawn`` serials."""

    visit_id: str
    lines: list[FeeDetailLine]
    open_lines: int
    withdrawn: list[str] = Field(default_factory=list)
