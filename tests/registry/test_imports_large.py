"""Large files: the text is decoded as it is read and the rows are written in chunks, and the
import stays all or nothing: a bad row or byte far into the file, or a failure in a later
chunk's write, leaves nothing written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from registry.imports import service
from tests.registry.helpers import csv_text, person_id
from tests.registry.test_imports import post_csv, problems

FAMILIES = 300
"""Rows enough for several of the reader's 8 KiB decoding blocks."""


def rows(count: int = FAMILIES) -> list[tuple[str, ...]]:
    """One household of one person per row, each with an open household-level period."""
    return [
        (
            f"H{n:05d}",
            "370305",
            person_id(n, born=date(1970, 1, 1) + timedelta(days=n // 1000)),
            "王芳",
            "户主",
            "registered_poor",
            "2016-03-01",
            "",
        )
        for n in range(count)
    ]


async def test_rows_written_in_chunks_are_all_written(
    client, count_rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "BULK_CHUNK", 7)
    response = await post_csv(client, csv_text(rows()))
    assert response.status_code == 200, response.text
    counts = await count_rows()
    assert (counts["households"], counts["persons"], counts["status_periods"]) == (300, 300, 300)


async def test_a_bad_row_far_into_the_file_rejects_it_all(client, count_rows) -> None:
    bad = rows()
    bad[FAMILIES - 2] = (*bad[FAMILIES - 2][:6], "2016-02-30", "")
    response = await post_csv(client, csv_text(bad))
    assert problems(response) == {(FAMILIES, "effective_from")}  # the header is row 1
    assert (await count_rows())["persons"] == 0


async def test_a_bad_byte_far_into_the_file_is_named_by_its_line(client, count_rows) -> None:
    data = csv_text(rows()).encode()
    cut = data.index(b"H00250")
    response = await post_csv(client, data[:cut] + b"\xff" + data[cut:])
    assert response.status_code == 422
    assert [(e["row"], e["message"]) for e in response.json()["errors"]] == [
        (252, "is not valid UTF-8 text")
    ]
    assert (await count_rows())["persons"] == 0


async def test_a_failure_in_a_later_chunk_rolls_back_the_earlier_ones(
    client, count_rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails in the third chunk of persons: the households, the persons of the
    first chunks and the import record are gone with it (one transaction)."""
    monkeypatch.setattr(service, "BULK_CHUNK", 100)
    allocate = service._allocate_ids

    async def clashing(session: AsyncSession, table: Table, count: int) -> Sequence[Any]:
        ids = list(await allocate(session, table, count))
        if table.name == "persons":
            ids[-1] = ids[0]  # the last chunk repeats the first person's key
        return ids

    monkeypatch.setattr(service, "_allocate_ids", clashing)
    response = await post_csv(client, csv_text(rows()))
    assert response.status_code == 500  # the injected fault; the database refused the chunk
    counts = await count_rows()
    assert counts == dict.fromkeys(counts, 0)
