"""Large files: the text is decoded as it is read and the rows are staged in chunks, and the
import stays all or nothing: a bad row or byte far into the file, rows that disagree or
conflict with the registry across chunks, or a failure in the last write, leave nothing
written."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.imports import service
from shared.db import Conn
from tests.registry.helpers import READER, csv_text, person_id
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


async def test_a_failure_in_the_last_write_rolls_back_the_earlier_ones(
    client, count_rows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status periods' insert fails (written twice: the database refuses the second
    copy) after the households, the persons, the periods and the import record were written:
    they are all gone with it (one transaction)."""
    monkeypatch.setattr(service, "BULK_CHUNK", 100)
    insert_periods = service._insert_periods

    async def twice(conn: Conn, stamp: service.Stamp) -> None:
        await insert_periods(conn, stamp)
        await insert_periods(conn, stamp)

    monkeypatch.setattr(service, "_insert_periods", twice)
    response = await post_csv(client, csv_text(rows()))
    assert response.status_code == 500  # the injected fault; the database refused the write
    counts = await count_rows()
    assert counts == dict.fromkeys(counts, 0)


# Files of many staging chunks (7 rows each): a problem found in the database is found
# whichever chunks its rows were read in, and nothing is written.


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "BULK_CHUNK", 7)


async def test_a_bad_row_beyond_many_chunks_rejects_the_whole_file(
    client, count_rows, small_chunks
) -> None:
    bad = rows()
    bad[FAMILIES - 1] = (*bad[FAMILIES - 1][:2], "370305198001010000", *bad[FAMILIES - 1][3:])
    response = await post_csv(client, csv_text(bad))
    assert problems(response) == {(FAMILIES + 1, "id_number")}
    assert set((await count_rows()).values()) == {0}


async def test_duplicates_across_chunks_reject_the_whole_file(
    client, count_rows, small_chunks
) -> None:
    """Rows 2 and 299 (chunks 1 and 43) disagree about one person, one household and one
    period; an overlapping period of row 3's person comes at row 300."""
    data = rows()
    head, second = data[0], data[1]
    data[FAMILIES - 2] = (head[0], "370306", head[2], "王芳芳", *head[4:6], head[6], "2020-12-31")
    data[FAMILIES - 1] = (*second[:5], "registered_poor", "2018-01-01", "")
    response = await post_csv(client, csv_text(data))
    assert response.status_code == 422
    assert {(e["row"], e["column"]): e["message"] for e in response.json()["errors"]} == {
        (FAMILIES, "region_code"): "household H00000 has region 370305 on line 2",
        (FAMILIES, "name"): "differs from line 2 for the same id_number",
        (FAMILIES, "effective_to"): (
            "differs from line 2 for the same registered_poor period starting 2016-03-01"
        ),
        (FAMILIES + 1, "effective_from"): (
            "overlaps the registered_poor period 2016-03-01 to open on line 3"
        ),
    }
    assert set((await count_rows()).values()) == {0}


async def test_a_conflict_with_the_registry_beyond_many_chunks_changes_nothing(
    client, count_rows, small_chunks
) -> None:
    assert (await post_csv(client, csv_text(rows()))).status_code == 200
    before = await count_rows()
    again = rows()
    again[3] = (*again[3][:7], "2020-06-30")  # an exit (脱贫): fine on its own
    last = again[FAMILIES - 1]
    again[FAMILIES - 1] = (last[0], "370399", *last[2:])
    response = await post_csv(client, csv_text(again))
    assert response.status_code == 422
    assert [(e["row"], e["column"], e["message"]) for e in response.json()["errors"]] == [
        (FAMILIES + 1, "region_code", f"household {last[0]} is registered with region 370305")
    ]
    assert await count_rows() == before
    person = again[3][2]
    read = await client.get(f"/v1/persons/{person}", headers=READER)
    assert [s["effective_to"] for s in read.json()["statuses"]] == [None]


async def test_an_import_after_a_refused_one_on_the_same_connection(
    client, count_rows, small_chunks
) -> None:
    """The staging tables of a refused import leave nothing behind for the next one."""
    bad = rows()
    bad[5] = (*bad[5][:6], "2016-02-30", "")
    assert (await post_csv(client, csv_text(bad))).status_code == 422
    response = await post_csv(client, csv_text(rows()))
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == FAMILIES
    assert (await count_rows())["status_periods"] == FAMILIES
