"""Bearer tokens over both backends: 401 without or with an unknown token, 403 for a read
token on a write, open health and docs routes, 413 for oversized bodies."""

from __future__ import annotations

import pytest

from tests.registry.helpers import (
    ADMIN,
    ADMIN_TOKEN,
    CSV,
    READ_TOKEN,
    READER,
    csv_text,
    person_id,
    registry_client,
    registry_settings,
)

PERSON = person_id(41)
ROUTES = [
    ("GET", f"/v1/persons/{PERSON}/eligibility", None),
    ("GET", f"/v1/persons/{PERSON}", None),
    ("GET", "/v1/households/H1", None),
    (
        "POST",
        f"/v1/persons/{PERSON}/statuses",
        {"category": "dibao", "effective_from": "2024-01-01"},
    ),
    ("POST", "/v1/statuses/1/end", {"effective_to": "2024-01-01", "reason": "脱贫"}),
    ("POST", "/v1/imports", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0000000000", f"Basic {ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}x"],
    ids=["none", "unknown", "basic", "prefix"],
)
async def test_missing_or_unknown_token_is_401(client, method, path, body, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_read_token_cannot_write(client, count_rows) -> None:
    for method, path, body in ROUTES[3:]:
        response = await client.request(method, path, json=body, headers=READER)
        assert response.status_code == 403, path
    response = await client.post("/v1/imports", content=csv_text([]), headers={**READER, **CSV})
    assert response.status_code == 403
    assert set((await count_rows()).values()) == {0}


async def test_admin_token_reads_too(client) -> None:
    rows = [("H1", "370305", PERSON, "张三", "户主", "", "", "")]
    await client.post("/v1/imports", content=csv_text(rows), headers={**ADMIN, **CSV})
    for token in (ADMIN_TOKEN, READ_TOKEN):
        response = await client.get(
            f"/v1/persons/{PERSON}/eligibility", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200


async def test_open_routes_need_no_token(client) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs", "/redoc"):
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/readyz")).json()["checks"] == {"database": "ok"}


async def test_unknown_route_is_problem_json(client) -> None:
    response = await client.get("/v1/nothing", headers=READER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_oversized_bodies_are_413(registry_db) -> None:
    settings = registry_settings(registry_db, max_body_bytes=2_000, max_import_bytes=10_000)
    async with registry_client(settings) as api:
        big_json = {"category": "dibao", "effective_from": "2024-01-01", "note": "x" * 3_000}
        response = await api.post(f"/v1/persons/{PERSON}/statuses", json=big_json, headers=ADMIN)
        assert response.status_code == 413
        rows = [("H1", "370305", person_id(i), "张三", "户主", "", "", "") for i in range(200)]
        text = csv_text(rows)
        assert 2_000 < len(text.encode()) < 10_000
        response = await api.post("/v1/imports", content=text, headers={**ADMIN, **CSV})
        assert response.status_code == 200, response.text
        response = await api.post("/v1/imports", content=text * 3, headers={**ADMIN, **CSV})
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_every_route_documents_its_answers(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            assert "422" in responses, (method, path)
            if method == "post":
                assert "403" in responses, path
    imports = spec["paths"]["/v1/imports"]["post"]
    assert "text/csv" in imports["requestBody"]["content"]
    assert "415" in imports["responses"]


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:9/nowhere", "sqlite:///{tmp}/not-migrated.db"],
    ids=["unreachable", "not-migrated"],
)
async def test_database_outage_is_503_not_500(tmp_path, url) -> None:
    settings = registry_settings(url.format(tmp=tmp_path))
    async with registry_client(settings) as api:
        response = await api.get(f"/v1/persons/{PERSON}/eligibility", headers=READER)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert response.headers["content-type"].startswith("application/problem+json")
        if url.startswith("postgresql"):
            assert (await api.get("/readyz")).status_code == 503
