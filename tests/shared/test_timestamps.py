"""Timestamps in answers: one format, UTC with ``Z`` and six fractional digits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.timestamps import Timestamp, timestamp_str

FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class Answer(BaseModel):
    at: Timestamp
    maybe: Timestamp | None = None


def test_the_format_is_utc_with_z_and_microseconds() -> None:
    assert timestamp_str(datetime(2026, 11, 28, 1, 10, 4, 120331, tzinfo=UTC)) == (
        "2026-11-28T01:10:04.120331Z"
    )
    # Whole seconds keep their six digits; other offsets are converted to UTC.
    assert timestamp_str(datetime(2026, 11, 28, 9, 0, tzinfo=timezone(timedelta(hours=8)))) == (
        "2026-11-28T01:00:00.000000Z"
    )
    assert timestamp_str(datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(0)))) == (
        "2026-01-01T00:00:00.000000Z"
    )
    # A naive moment is UTC already (how SQLite hands a stored time back).
    assert timestamp_str(datetime(2026, 1, 1, 12, 30)) == "2026-01-01T12:30:00.000000Z"


def test_the_pydantic_type_writes_json_in_that_format_and_keeps_python_values() -> None:
    moment = datetime(2026, 3, 12, 8, 30, 15, tzinfo=timezone(timedelta(hours=8)))
    answer = Answer(at=moment)
    assert answer.model_dump_json() == '{"at":"2026-03-12T00:30:15.000000Z","maybe":null}'
    assert answer.model_dump()["at"] == moment  # Python mode: the datetime itself
    schema = Answer.model_json_schema(mode="serialization")["properties"]["at"]
    assert schema == {"type": "string", "format": "date-time", "title": "At"}


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12)), None]
        ),
    )
)
def test_every_moment_prints_one_way_and_reads_back_the_same(moment: datetime) -> None:
    text = timestamp_str(moment)
    assert FORMAT.match(text), text
    back = datetime.fromisoformat(text)
    assert back.utcoffset() == timedelta(0)
    expected = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    assert back == expected
