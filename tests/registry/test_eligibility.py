"""GET eligibility, person and household over both backends: dates before, inside and after a
period, household-level categories, an exited household, the span of each answer
(``valid_from`` / ``valid_to``), and bad input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.imports.csvfile import HEADER
from tests.registry.helpers import ADMIN, CSV, READER, csv_text, person_id

HEAD = person_id(11)
SPOUSE = person_id(12)
CHILD = person_id(13)
EXITED = person_id(21, born=date(1970, 7, 21))
EXITED_SPOUSE = person_id(22, born=date(1972, 12, 3))
NO_STATUS = person_id(31)

ROWS = [
    # Household H1: registered poor (household-level) with an illness period on the head.
    ("H1", "370305", HEAD, "张建国", "户主", "registered_poor", "2016-03-01", ""),
    ("H1", "370305", HEAD, "张建国", "户主", "illness_poverty", "2021-07-01", "2023-06-30"),
    ("H1", "370305", SPOUSE, "李秀英", "配偶", "poor_disabled", "2018-05-01", ""),
    ("H1", "370305", CHILD, "张小明", "子女", "", "", ""),
    # Household H2 exited: registered poor until 2020-12-31 (脱贫), dibao until 2021-06-30.
    ("H2", "370305", EXITED, "孙立新", "户主", "registered_poor", "2016-01-01", "2020-12-31"),
    ("H2", "370305", EXITED, "孙立新", "户主", "dibao", "2017-01-01", "2021-06-30"),
    ("H2", "370305", EXITED_SPOUSE, "周丽", "配偶", "", "", ""),
    # Household H3: registered, never any category.
    ("H3", "370305", NO_STATUS, "王五", "户主", "", "", ""),
]


@pytest.fixture
async def seeded(client):
    response = await client.post("/v1/imports", content=csv_text(ROWS), headers={**ADMIN, **CSV})
    assert response.status_code == 200, response.text
    return client


async def categories(client, id_number: str, on: str) -> list[str]:
    response = await client.get(
        f"/v1/persons/{id_number}/eligibility", params={"on": on}, headers=READER
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["on"] == on
    assert body["registered"] is True
    return list(body["categories"])


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ("2021-06-30", ["registered_poor"]),  # the day before the illness period
        ("2021-07-01", ["illness_poverty", "registered_poor"]),  # its first day
        ("2022-03-15", ["illness_poverty", "registered_poor"]),
        ("2023-06-30", ["illness_poverty", "registered_poor"]),  # its last day (inclusive)
        ("2023-07-01", ["registered_poor"]),  # the day after
        ("2016-02-29", []),  # before the household was registered poor
    ],
)
async def test_categories_before_inside_and_after_a_period(seeded, on, expected) -> None:
    assert await categories(seeded, HEAD, on) == expected


async def test_household_level_categories_apply_to_every_member(seeded) -> None:
    assert await categories(seeded, CHILD, "2024-01-01") == ["registered_poor"]
    assert await categories(seeded, SPOUSE, "2024-01-01") == ["poor_disabled", "registered_poor"]
    assert await categories(seeded, SPOUSE, "2017-01-01") == ["registered_poor"]


async def test_an_exited_household(seeded) -> None:
    assert await categories(seeded, EXITED, "2019-06-01") == ["dibao", "registered_poor"]
    assert await categories(seeded, EXITED_SPOUSE, "2019-06-01") == ["dibao", "registered_poor"]
    assert await categories(seeded, EXITED, "2021-03-01") == ["dibao"]
    assert await categories(seeded, EXITED_SPOUSE, "2021-07-01") == []
    response = await seeded.get(f"/v1/persons/{EXITED}/eligibility", headers=READER)
    assert response.json()["categories"] == []  # today: still registered, no category


async def answer(client, id_number: str, on: str) -> tuple[list[str], str | None, str | None]:
    response = await client.get(
        f"/v1/persons/{id_number}/eligibility", params={"on": on}, headers=READER
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return list(body["categories"]), body["valid_from"], body["valid_to"]


@pytest.mark.parametrize(
    ("id_number", "on", "expected"),
    [
        # Before, inside and after the head's own illness period, on the household's period.
        (HEAD, "2016-02-29", ([], None, "2016-02-29")),
        (HEAD, "2016-03-01", (["registered_poor"], "2016-03-01", "2021-06-30")),
        (HEAD, "2021-06-30", (["registered_poor"], "2016-03-01", "2021-06-30")),
        (HEAD, "2021-07-01", (["illness_poverty", "registered_poor"], "2021-07-01", "2023-06-30")),
        (HEAD, "2022-03-15", (["illness_poverty", "registered_poor"], "2021-07-01", "2023-06-30")),
        (HEAD, "2023-07-01", (["registered_poor"], "2023-07-01", None)),
        (HEAD, "2030-01-01", (["registered_poor"], "2023-07-01", None)),
        # Household-level periods only: the head's own period is not the child's boundary.
        (CHILD, "2010-01-01", ([], None, "2016-02-29")),
        (CHILD, "2022-03-15", (["registered_poor"], "2016-03-01", None)),
        (SPOUSE, "2017-01-01", (["registered_poor"], "2016-03-01", "2018-04-30")),
        # The exited household, as seen by a member without periods of their own.
        (EXITED_SPOUSE, "2015-12-31", ([], None, "2015-12-31")),
        (EXITED_SPOUSE, "2016-06-01", (["registered_poor"], "2016-01-01", "2016-12-31")),
        (EXITED_SPOUSE, "2019-06-01", (["dibao", "registered_poor"], "2017-01-01", "2020-12-31")),
        (EXITED_SPOUSE, "2021-03-01", (["dibao"], "2021-01-01", "2021-06-30")),
        (EXITED_SPOUSE, "2021-07-01", ([], "2021-07-01", None)),
        (EXITED, "2040-01-01", ([], "2021-07-01", None)),
        # No period at all: the same answer on every date.
        (NO_STATUS, "2022-03-15", ([], None, None)),
    ],
)
async def test_span_of_the_answer(seeded, id_number, on, expected) -> None:
    assert await answer(seeded, id_number, on) == expected


async def test_the_same_answer_holds_over_the_whole_span(seeded) -> None:
    """Around every boundary, the answer on either end of a date's span is that date's."""
    boundaries = [
        "2016-01-01", "2016-03-01", "2017-01-01", "2018-05-01", "2021-01-01", "2021-07-01",
        "2023-07-01",
    ]  # fmt: skip
    days = set()
    for boundary in boundaries:
        day = date.fromisoformat(boundary)
        days |= {day - timedelta(days=1), day, day + timedelta(days=1)}
    for id_number in (HEAD, SPOUSE, CHILD, EXITED):
        for day in sorted(days):
            got = await answer(seeded, id_number, day.isoformat())
            _, valid_from, valid_to = got
            for end in (valid_from, valid_to):
                if end is not None:
                    assert await answer(seeded, id_number, end) == got, (id_number, day, end)
            if valid_from is not None:
                before = date.fromisoformat(valid_from) - timedelta(days=1)
                assert (await answer(seeded, id_number, before.isoformat()))[2] == (
                    before.isoformat()
                )
            if valid_to is not None:
                after = date.fromisoformat(valid_to) + timedelta(days=1)
                assert (await answer(seeded, id_number, after.isoformat()))[1] == (
                    after.isoformat()
                )


async def test_eligibility_answer_shape(seeded, settings) -> None:
    response = await seeded.get(f"/v1/persons/{SPOUSE.lower()}/eligibility", headers=READER)
    assert response.status_code == 200
    assert response.json() == {
        "id_number_masked": SPOUSE[:6] + "********" + SPOUSE[-4:],
        "name": "李秀英",
        "household_code": "H1",
        "region_code": "370305",
        "categories": ["poor_disabled", "registered_poor"],
        "registered": True,
        "on": settings.today().isoformat(),
        "valid_from": "2018-05-01",
        "valid_to": None,
    }
    assert SPOUSE not in response.text


async def test_unknown_person_is_404_with_masked_number(seeded) -> None:
    unknown = person_id(99)
    response = await seeded.get(f"/v1/persons/{unknown}/eligibility", headers=READER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert unknown not in response.json()["detail"]
    assert unknown[:6] + "********" + unknown[-4:] in response.json()["detail"]
    assert (await seeded.get(f"/v1/persons/{unknown}", headers=READER)).status_code == 404
    assert (await seeded.get("/v1/households/H404", headers=READER)).status_code == 404


@pytest.mark.parametrize(
    ("id_number", "message"),
    [
        (HEAD[:-1], "18 characters"),
        (HEAD + "1", "18 characters"),
        ("37030519801301001" + "0", "birth date"),  # month 13
        (HEAD[:-1] + ("0" if HEAD[-1] != "0" else "1"), "check digit"),
        ("3703051980010100A1", "17 digits"),
    ],
    ids=["short", "long", "birth-date", "check-digit", "letters"],
)
async def test_bad_id_number_is_422_naming_the_field(seeded, id_number, message) -> None:
    for path in (f"/v1/persons/{id_number}/eligibility", f"/v1/persons/{id_number}"):
        response = await seeded.get(path, headers=READER)
        assert response.status_code == 422
        (error,) = response.json()["errors"]
        assert error["field"] == "path.id_number"
        assert message in error["message"]


@pytest.mark.parametrize("on", ["2024-02-30", "20240101", "yesterday", "2024-1-1", "1700000000"])
async def test_bad_date_is_422_naming_the_field(seeded, on) -> None:
    response = await seeded.get(
        f"/v1/persons/{HEAD}/eligibility", params={"on": on}, headers=READER
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["query.on"]


async def test_person_with_full_history(seeded) -> None:
    response = await seeded.get(f"/v1/persons/{HEAD}", headers=READER)
    assert response.status_code == 200
    body = response.json()
    assert body["id_number_masked"] == HEAD[:6] + "********" + HEAD[-4:]
    assert HEAD not in response.text
    assert [(s["category"], s["level"], s["effective_to"]) for s in body["statuses"]] == [
        ("registered_poor", "household", None),
        ("illness_poverty", "person", "2023-06-30"),
    ]


async def test_household_with_members_and_exit(seeded) -> None:
    response = await seeded.get("/v1/households/H2", headers=READER)
    assert response.status_code == 200
    body = response.json()
    assert [(s["category"], s["effective_to"]) for s in body["statuses"]] == [
        ("registered_poor", "2020-12-31"),
        ("dibao", "2021-06-30"),
    ]
    assert [m["name"] for m in body["members"]] == ["孙立新", "周丽"]
    assert EXITED not in response.text
    bad = await seeded.get("/v1/households/H 1", headers=READER)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "path.household_code"


def test_rows_match_the_import_header() -> None:
    assert all(len(row) == len(HEADER) for row in ROWS)
