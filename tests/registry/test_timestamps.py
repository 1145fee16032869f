"""The registry writes its moments as the settlement service does:
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, six fractional digits, ``Z``), on both backends."""

from __future__ import annotations

import re

from tests.registry.helpers import ADMIN, CSV, READER, csv_text, person_id

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
HEAD = person_id(41)


async def test_status_answers_write_moments_in_one_format(client) -> None:
    rows = [("H41", "370305", HEAD, "李秀英", "户主", "dibao", "2024-01-01", "")]
    imported = await client.post("/v1/imports", content=csv_text(rows), headers={**ADMIN, **CSV})
    assert imported.status_code == 200, imported.text

    added = await client.post(
        f"/v1/persons/{HEAD}/statuses",
        json={"category": "destitute", "effective_from": "2024-01-01"},
        headers=ADMIN,
    )
    assert added.status_code == 201, added.text
    assert TIMESTAMP.match(added.json()["recorded_at"]), added.json()
    assert added.json()["ended_at"] is None

    ended = await client.post(
        f"/v1/statuses/{added.json()['id']}/end",
        json={"effective_to": "2024-06-30", "reason": "脱贫"},
        headers=ADMIN,
    )
    assert ended.status_code == 200, ended.text
    for key in ("recorded_at", "ended_at"):
        assert TIMESTAMP.match(ended.json()[key]), (key, ended.json())

    person = (await client.get(f"/v1/persons/{HEAD}", headers=READER)).json()["statuses"]
    assert sorted(s["ended_at"] is None for s in person) == [False, True]  # one ended
    household = (await client.get("/v1/households/H41", headers=READER)).json()["statuses"]
    assert household
    for statuses in (person, household):
        for status in statuses:
            assert TIMESTAMP.match(status["recorded_at"]), status
            assert status["ended_at"] is None or TIMESTAMP.match(status["ended_at"]), status
