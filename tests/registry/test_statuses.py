"""Single edits over both backends: add a period, end it, the change log, and refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.models import change_log
from tests.registry.helpers import ADMIN, CSV, READER, csv_text, person_id

HEAD = person_id(31)
CHILD = person_id(32)
ROWS = [
    ("H3", "370305", HEAD, "王桂兰", "户主", "", "", ""),
    ("H3", "370305", CHILD, "王强", "子女", "", "", ""),
]


@pytest.fixture
async def seeded(client):
    response = await client.post("/v1/imports", content=csv_text(ROWS), headers={**ADMIN, **CSV})
    assert response.status_code == 200, response.text
    return client


async def eligible(client, id_number: str, on: str) -> list[str]:
    response = await client.get(
        f"/v1/persons/{id_number}/eligibility", params={"on": on}, headers=READER
    )
    return list(response.json()["categories"])


async def log_entries(registry_engine):
    async with registry_engine.connect() as connection:
        rows = await connection.execute(select(change_log).order_by(change_log.c.id))
        return [row._asdict() for row in rows]


async def test_add_a_status_then_end_it(seeded, registry_engine) -> None:
    url = f"/v1/persons/{HEAD}/statuses"
    body = {"category": "destitute", "effective_from": "2024-01-01", "note": "民政决定 12 号"}
    headers = {**ADMIN, "X-Request-ID": "req-add-1"}
    added = await seeded.post(url, json=body, headers=headers)
    assert added.status_code == 201, added.text
    period = added.json()
    assert period["level"] == "person"
    assert period["effective_to"] is None
    assert period["category_name"] == "特困供养"
    assert period["recorded_by"] == "admin"
    assert period["id_number_masked"] == HEAD[:6] + "********" + HEAD[-4:]
    assert await eligible(seeded, HEAD, "2024-06-01") == ["destitute"]

    again = await seeded.post(url, json=body, headers=ADMIN)
    assert again.status_code == 200
    assert again.json()["id"] == period["id"]

    end = {"effective_to": "2024-06-30", "reason": "脱贫"}
    ended = await seeded.post(
        f"/v1/statuses/{period['id']}/end", json=end, headers={**ADMIN, "X-Request-ID": "req-end-1"}
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["effective_to"] == "2024-06-30"
    assert ended.json()["end_reason"] == "脱贫"
    assert ended.json()["ended_by"] == "admin"
    assert await eligible(seeded, HEAD, "2024-06-30") == ["destitute"]
    assert await eligible(seeded, HEAD, "2024-07-01") == []

    same_end = await seeded.post(f"/v1/statuses/{period['id']}/end", json=end, headers=ADMIN)
    assert same_end.status_code == 200
    other_end = {"effective_to": "2024-07-31", "reason": "销号"}
    conflict = await seeded.post(f"/v1/statuses/{period['id']}/end", json=other_end, headers=ADMIN)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")

    history = (await seeded.get(f"/v1/persons/{HEAD}", headers=READER)).json()["statuses"]
    assert [(s["id"], s["effective_to"]) for s in history] == [(period["id"], "2024-06-30")]

    entries = await log_entries(registry_engine)
    assert [(e["action"], e["actor"], e["request_id"]) for e in entries] == [
        ("import", "admin", entries[0]["request_id"]),
        ("status.add", "admin", "req-add-1"),
        ("status.end", "admin", "req-end-1"),
    ]
    assert entries[1]["entity_id"] == period["id"]
    assert entries[2]["entity_id"] == period["id"]
    assert entries[2]["details"]["reason"] == "脱贫"
    assert entries[2]["at"] >= entries[1]["at"]


async def test_household_level_status_added_through_a_member(seeded) -> None:
    response = await seeded.post(
        f"/v1/persons/{CHILD}/statuses",
        json={"category": "dibao", "effective_from": "2023-01-01", "effective_to": "2023-12-31"},
        headers=ADMIN,
    )
    assert response.status_code == 201
    assert response.json()["level"] == "household"
    assert response.json()["id_number_masked"] is None
    assert await eligible(seeded, HEAD, "2023-05-01") == ["dibao"]
    household = (await seeded.get("/v1/households/H3", headers=READER)).json()
    assert [s["category"] for s in household["statuses"]] == ["dibao"]


async def test_overlapping_period_is_409(seeded, count_rows) -> None:
    url = f"/v1/persons/{HEAD}/statuses"
    first = {"category": "low_income", "effective_from": "2022-01-01", "effective_to": "2022-12-31"}
    assert (await seeded.post(url, json=first, headers=ADMIN)).status_code == 201
    before = await count_rows()
    for body in (
        {"category": "low_income", "effective_from": "2022-12-31"},
        {"category": "low_income", "effective_from": "2021-01-01", "effective_to": "2022-01-01"},
        {"category": "low_income", "effective_from": "2022-01-01"},  # same start, other end
    ):
        response = await seeded.post(f"/v1/persons/{CHILD}/statuses", json=body, headers=ADMIN)
        assert response.status_code == 409, body
    assert await count_rows() == before
    after = {"category": "low_income", "effective_from": "2023-01-01"}
    assert (await seeded.post(url, json=after, headers=ADMIN)).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "rich", "effective_from": "2024-01-01"}, "category"),
        ({"category": "dibao"}, "effective_from"),
        ({"category": "dibao", "effective_from": "2024-13-01"}, "effective_from"),
        (
            {"category": "dibao", "effective_from": "2024-05-01", "effective_to": "2024-04-30"},
            "effective_to",
        ),
        ({"category": "dibao", "effective_from": "2024-05-01", "extra": 1}, "extra"),
        ({"category": "dibao", "effective_from": "2024-05-01", "note": "x" * 501}, "note"),
    ],
)
async def test_bad_status_body_is_422_naming_the_field(seeded, count_rows, body, field) -> None:
    before = await count_rows()
    response = await seeded.post(f"/v1/persons/{HEAD}/statuses", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await count_rows() == before


async def test_end_refusals(seeded) -> None:
    added = await seeded.post(
        f"/v1/persons/{HEAD}/statuses",
        json={"category": "poor_disabled", "effective_from": "2024-03-01"},
        headers=ADMIN,
    )
    status_id = added.json()["id"]
    early = await seeded.post(
        f"/v1/statuses/{status_id}/end",
        json={"effective_to": "2024-02-28", "reason": "销号"},
        headers=ADMIN,
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "effective_to"
    no_reason = await seeded.post(
        f"/v1/statuses/{status_id}/end",
        json={"effective_to": "2024-05-01", "reason": " "},
        headers=ADMIN,
    )
    assert no_reason.status_code == 422
    end = {"effective_to": "2024-05-01", "reason": "迁出"}
    assert (
        await seeded.post("/v1/statuses/999999/end", json=end, headers=ADMIN)
    ).status_code == 404
    huge = await seeded.post(f"/v1/statuses/{2**63}/end", json=end, headers=ADMIN)
    assert huge.status_code == 422
    unknown_person = await seeded.post(
        f"/v1/persons/{person_id(77)}/statuses",
        json={"category": "dibao", "effective_from": "2024-01-01"},
        headers=ADMIN,
    )
    assert unknown_person.status_code == 404
