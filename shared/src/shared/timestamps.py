"""Timestamps in answers: one format in both services, UTC with a ``Z``.

Every moment an answer carries (a bill's ``setl_time`` and ``revoked_at``, ``created_at``,
``recorded_at``, ``updated_at``, ``ended_at``, …) is written ``YYYY-MM-DDTHH:MM:SS.ffffffZ``:
RFC 3339 / ISO 8601 in UTC, always with six fractional digits (microseconds) and the ``Z``
designator, never ``+00:00`` and never without a zone. The fixed width lets an HIS parse it
with one pattern and sort it as text. Local dates (``setl_date``, …) stay plain dates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def timestamp_str(moment: datetime) -> str:
    """A moment as ``2026-11-28T01:10:04.120331Z``. An aware moment is converted to UTC; a
    naive one is taken to be UTC already (how SQLite hands back the stored UTC time)."""
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return utc.strftime(TIMESTAMP_FORMAT)


Timestamp = Annotated[
    datetime,
    PlainSerializer(timestamp_str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""A moment in an answer (pydantic type): a ``datetime`` in Python, in JSON the string
:func:`timestamp_str` makes. Validation is pydantic's ``datetime``."""

__all__ = ["TIMESTAMP_FORMAT", "Timestamp", "timestamp_str"]
