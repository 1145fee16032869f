"""The answer of ``GET /v1/audit/verify``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BreakKind = Literal["hash", "link", "sequence", "bill", "missing", "orphan"]


class BreakOut(BaseModel):
    """One place the audit trail does not hold. ``kind``: ``hash`` — the record is not the
    one that was sealed (a field was changed); ``link`` — its ``prev_hash`` is not the
    previous record's hash; ``sequence`` — records before it in its chain are missing;
    ``bill`` — a bill's (or reversal's) stored amounts differ from its settle (revoke)
    record; ``missing`` — a bill has no settle (revoke) record; ``orphan`` — a settle record
    names a bill that is not there."""

    record_id: int | None
    chain: str | None
    seq: int | None
    at: datetime | None
    kind: BreakKind
    message: str
    setl_id: str | None = None


class VerifyReport(BaseModel):
    """The audit chain recomputed, and the bills checked against their records.

    ``from``/``to``: the local dates checked (``null``: from the first, or to the last,
    record); the records made and the bills and reversals booked on those dates.
    ``first_break`` is the earliest break (by time, then record id) or ``null`` when
    everything holds; ``breaks`` lists at most the first 20."""

    model_config = ConfigDict(populate_by_name=True)

    ok: bool
    from_: date | None = Field(alias="from")
    to: date | None
    records_checked: int
    chains_checked: int
    bills_checked: int
    break_count: int
    first_break: BreakOut | None
    breaks: list[BreakOut]
