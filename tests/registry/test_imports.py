"""POST /v1/imports over both backends: happy path, idempotence, dry run, all-or-nothing
refusals with row and column, and the re-import rules."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest

from tests.registry.helpers import ADMIN, CSV, READER, csv_text, person_id

HEAD = person_id(1)
SPOUSE = person_id(2)
CHILD = person_id(3)
LONER = person_id(4, born=date(1950, 6, 30))

FAMILY = [
    ("H001", "370305", HEAD, "张建国", "户主", "registered_poor", "2016-03-01", ""),
    ("H001", "370305", SPOUSE, "李秀英", "配偶", "poor_disabled", "2018-05-01", "2022-12-31"),
    ("H001", "370305", SPOUSE, "李秀英", "配偶", "registered_poor", "2016-03-01", ""),
    ("H001", "370305", CHILD, "张小明", "子女", "", "", ""),
    ("H002", "370303", LONER, "赵德明", "户主", "destitute", "2015-01-01", ""),
]


async def post_csv(
    client: httpx.AsyncClient, text: str | bytes, *, dry_run: bool = False
) -> httpx.Response:
    body = text.encode() if isinstance(text, str) else text
    params = {"dry_run": "true"} if dry_run else {}
    return await client.post("/v1/imports", content=body, headers={**ADMIN, **CSV}, params=params)


def problems(response: httpx.Response) -> set[tuple[int, str | None]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {(e["row"], e["column"]) for e in response.json()["errors"]}


async def test_import_creates_households_persons_and_periods(client, count_rows) -> None:
    response = await post_csv(client, csv_text(FAMILY))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True
    assert body["dry_run"] is False
    assert isinstance(body["import_id"], int)
    assert body["rows"] == 5
    assert body["households"] == {"created": 2, "unchanged": 0}
    assert body["persons"] == {"created": 4, "updated": 0, "unchanged": 0}
    # registered_poor is household-level: the two rows carrying it make one period.
    assert body["periods"] == {"created": 3, "closed": 0, "unchanged": 0}
    counts = await count_rows()
    assert counts["households"] == 2
    assert counts["persons"] == 4
    assert counts["status_periods"] == 3
    assert counts["imports"] == 1
    assert counts["change_log"] == 1

    household = (await client.get("/v1/households/H001", headers=READER)).json()
    assert [s["category"] for s in household["statuses"]] == ["registered_poor"]
    assert household["statuses"][0]["level"] == "household"
    members = {m["name"]: m for m in household["members"]}
    assert [s["category"] for s in members["李秀英"]["statuses"]] == ["poor_disabled"]
    assert members["张小明"]["statuses"] == []
    assert members["张建国"]["id_number_masked"] == HEAD[:6] + "********" + HEAD[-4:]


async def test_same_file_twice_changes_nothing(client, count_rows) -> None:
    text = csv_text(FAMILY)
    assert (await post_csv(client, text)).status_code == 200
    before = await count_rows()
    response = await post_csv(client, text)
    assert response.status_code == 200
    body = response.json()
    assert body["changed"] is False
    assert body["import_id"] is None
    assert body["households"] == {"created": 0, "unchanged": 2}
    assert body["persons"] == {"created": 0, "updated": 0, "unchanged": 4}
    assert body["periods"] == {"created": 0, "closed": 0, "unchanged": 3}
    assert await count_rows() == before


async def test_dry_run_validates_and_writes_nothing(client, count_rows) -> None:
    response = await post_csv(client, csv_text(FAMILY), dry_run=True)
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True
    assert body["changed"] is False
    assert body["import_id"] is None
    assert body["persons"]["created"] == 4
    assert body["periods"]["created"] == 3
    assert set((await count_rows()).values()) == {0}

    bad = csv_text([("H001", "370305", HEAD[:-1] + "0", "x", "", "", "", "")])
    if HEAD.endswith("0"):
        bad = csv_text([("H001", "370305", HEAD[:-1] + "1", "x", "", "", "", "")])
    assert problems(await post_csv(client, bad, dry_run=True)) == {(2, "id_number")}


async def test_bad_rows_are_all_reported_and_nothing_is_written(client, count_rows) -> None:
    wrong_check = HEAD[:-1] + ("1" if HEAD[-1] != "1" else "2")
    rows = [
        FAMILY[0],  # line 2, fine
        ("H001", "370305", wrong_check, "李四", "配偶", "", "", ""),  # line 3
        ("H003", "370305", person_id(5), "王五", "户主", "dibao", "2024-02-30", ""),  # line 4
        ("H004", "370305", person_id(6), "赵六", "户主", "rich", "2024-01-01", ""),  # line 5
        ("H005", "370305", person_id(7), "钱七", "户主", "dibao", "2024-05-01", "2024-04-30"),
        ("H006", "3703", person_id(8), "", "户主", "", "2024-01-01", ""),  # line 7
        ("H007", "370305", "37030519800101", "孙八", "户主", "destitute", "", ""),  # line 8
    ]
    response = await post_csv(client, csv_text(rows))
    assert problems(response) == {
        (3, "id_number"),
        (4, "effective_from"),
        (5, "category"),
        (6, "effective_to"),
        (7, "region_code"),
        (7, "name"),
        (7, "effective_from"),
        (8, "id_number"),
        (8, "effective_from"),
    }
    body = response.json()
    assert body["error_count"] == 9
    assert body["truncated"] is False
    by_row = {(e["row"], e["column"]): e["message"] for e in body["errors"]}
    assert "check digit" in by_row[(3, "id_number")]
    assert "before effective_from" in by_row[(6, "effective_to")]
    assert wrong_check not in response.text  # ID numbers are not echoed
    assert set((await count_rows()).values()) == {0}


@pytest.mark.parametrize(
    ("header", "column"),
    [
        (
            "household_code,region_code,id_number,name,relation,category,effective_from",
            "effective_to",
        ),
        (
            "household,region_code,id_number,name,relation,category,effective_from,effective_to",
            "household_code",
        ),
        (
            "household_code,region_code,id_number,name,relation,category,effective_from,effective_to,x",
            "x",
        ),
    ],
    ids=["missing", "renamed", "extra"],
)
async def test_wrong_header_is_refused_on_row_1(client, count_rows, header, column) -> None:
    response = await post_csv(client, csv_text(FAMILY, header=header))
    assert problems(response) == {(1, column)}
    assert set((await count_rows()).values()) == {0}


async def test_file_level_problems(client, count_rows) -> None:
    assert problems(await post_csv(client, "")) == {(1, None)}
    short = csv_text([]) + "H001,370305\n"
    assert problems(await post_csv(client, short)) == {(2, None)}
    latin1 = csv_text(FAMILY[:1]).encode().replace("张建国".encode(), "Zh\xe0ng".encode("latin-1"))
    assert problems(await post_csv(client, latin1)) == {(2, None)}
    assert set((await count_rows()).values()) == {0}


async def test_bom_blank_lines_and_crlf_are_accepted(client) -> None:
    text = csv_text(FAMILY).replace("\n", "\r\n") + "\r\n,,,,,,,\r\n"
    response = await post_csv(client, b"\xef\xbb\xbf" + text.encode())
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 5


async def test_conflicting_rows_within_the_file(client) -> None:
    rows = [
        FAMILY[0],
        ("H001", "370306", SPOUSE, "李秀英", "配偶", "", "", ""),  # other region
        ("H002", "370305", HEAD, "张建国", "户主", "", "", ""),  # other household
        ("H001", "370305", CHILD, "张小明", "子女", "registered_poor", "2016-03-01", "2020-01-01"),
        ("H009", "370305", LONER, "赵德明", "户主", "destitute", "2015-01-01", ""),
        ("H009", "370305", LONER, "赵德明", "户主", "destitute", "2019-01-01", "2019-12-31"),
    ]
    assert problems(await post_csv(client, csv_text(rows))) == {
        (3, "region_code"),
        (4, "household_code"),
        (5, "effective_to"),
        (7, "effective_from"),
    }


async def test_reimport_ends_open_periods_and_updates_names(client, count_rows) -> None:
    assert (await post_csv(client, csv_text(FAMILY))).status_code == 200
    exited = [list(row) for row in FAMILY]
    exited[0][7] = "2024-06-30"  # the household's registered_poor period ends (脱贫)
    exited[2][7] = "2024-06-30"
    exited[3][3] = "张晓明"  # corrected name
    response = await post_csv(client, csv_text(exited))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["periods"] == {"created": 0, "closed": 1, "unchanged": 2}
    assert body["persons"] == {"created": 0, "updated": 1, "unchanged": 3}
    counts = await count_rows()
    assert counts["status_periods"] == 3
    assert counts["change_log"] == 4

    person = (await client.get(f"/v1/persons/{HEAD}", headers=READER)).json()
    (period,) = [s for s in person["statuses"] if s["category"] == "registered_poor"]
    assert period["effective_to"] == "2024-06-30"
    assert period["ended_by"] == "admin"
    assert period["end_reason"] == "import"
    assert (await post_csv(client, csv_text(exited))).json()["changed"] is False


async def test_reimport_never_rewrites_history(client, count_rows) -> None:
    assert (await post_csv(client, csv_text(FAMILY))).status_code == 200
    before = await count_rows()
    reopened = [list(r) for r in FAMILY]
    reopened[1][7] = ""  # the registry ended poor_disabled on 2022-12-31
    redated = [list(r) for r in FAMILY]
    redated[1][7] = "2023-01-31"
    moved = [*FAMILY, ("H002", "370303", CHILD, "张小明", "子女", "", "", "")]
    overlapping = [
        *FAMILY,
        ("H002", "370303", LONER, "赵德明", "户主", "destitute", "2020-01-01", ""),
    ]
    region = [list(r) for r in FAMILY]
    region[4][1] = "370399"
    assert problems(await post_csv(client, csv_text(reopened))) == {(3, "effective_to")}
    assert problems(await post_csv(client, csv_text(redated))) == {(3, "effective_to")}
    assert problems(await post_csv(client, csv_text(moved))) == {(7, "household_code")}
    assert problems(await post_csv(client, csv_text(overlapping))) == {(7, "effective_from")}
    assert problems(await post_csv(client, csv_text(region))) == {(6, "region_code")}
    assert await count_rows() == before


async def test_a_new_period_after_an_exit_is_accepted(client) -> None:
    rows = [("H002", "370303", LONER, "赵德明", "户主", "destitute", "2015-01-01", "2019-12-31")]
    assert (await post_csv(client, csv_text(rows))).status_code == 200
    rows.append(("H002", "370303", LONER, "赵德明", "户主", "destitute", "2020-01-01", ""))
    response = await post_csv(client, csv_text(rows))
    assert response.json()["periods"] == {"created": 1, "closed": 0, "unchanged": 1}


async def test_content_type_must_be_csv(client) -> None:
    body = csv_text(FAMILY).encode()
    for content_type in ("application/json", "text/plain", "text/csv; charset=latin-1"):
        response = await client.post(
            "/v1/imports", content=body, headers={**ADMIN, "Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.post(
        "/v1/imports", content=body, headers={**ADMIN, "Content-Type": "text/csv; charset=UTF-8"}
    )
    assert response.status_code == 200


async def test_dry_run_flag_must_be_a_boolean(client) -> None:
    response = await client.post(
        "/v1/imports", content=b"", headers={**ADMIN, **CSV}, params={"dry_run": "maybe"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.dry_run"


async def test_concurrent_imports_of_one_file_write_it_once(client, count_rows) -> None:
    text = csv_text(FAMILY)
    first, second = await asyncio.gather(post_csv(client, text), post_csv(client, text))
    assert first.status_code == second.status_code == 200
    assert sorted([first.json()["changed"], second.json()["changed"]]) == [False, True]
    counts = await count_rows()
    assert counts["persons"] == 4
    assert counts["status_periods"] == 3


async def test_an_exit_and_a_new_period_in_one_file(client) -> None:
    """The file ends an open period of the registry and starts the next one: the overlap
    check sees the registry's period as the file ends it."""
    first = ("H002", "370303", LONER, "赵德明", "户主", "destitute", "2015-01-01", "")
    assert (await post_csv(client, csv_text([first]))).status_code == 200
    late_exit = [(*first[:7], "2020-06-30"), (*first[:6], "2020-01-01", "")]
    response = await post_csv(client, csv_text(late_exit))
    assert response.status_code == 422
    assert [(e["row"], e["column"], e["message"]) for e in response.json()["errors"]] == [
        (3, "effective_from", "overlaps the destitute period 2015-01-01 to 2020-06-30 on line 2")
    ]
    exit_then_again = [(*first[:7], "2019-12-31"), (*first[:6], "2020-01-01", "")]
    response = await post_csv(client, csv_text(exit_then_again))
    assert response.status_code == 200, response.text
    assert response.json()["periods"] == {"created": 1, "closed": 1, "unchanged": 0}
