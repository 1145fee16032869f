"""Hospital registration and the hospitals' API keys, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from tests.settlement.conftest import Service, admin_headers, bill_body, make_id_number, unique


async def test_hospital_registration_and_auth(svc: Service) -> None:
    code = unique("HOSP")
    response = await svc.client.post(
        "/v1/hospitals",
        json={"code": code, "name": "测试医院", "level": 3, "region_code": "370305"},
        headers=admin_headers(),
    )
    assert response.status_code == 201
    created = response.json()
    assert created["api_key"].startswith("mk_")
    assert created["level"] == 3
    duplicate = await svc.client.post(
        "/v1/hospitals",
        json={"code": code, "name": "测试医院", "level": 3, "region_code": "370305"},
        headers=admin_headers(),
    )
    assert duplicate.status_code == 409
    as_hospital = await svc.client.post(
        "/v1/hospitals",
        json={"code": unique("H"), "name": "x", "level": 1, "region_code": "370305"},
        headers={"Authorization": f"Bearer {created['api_key']}"},
    )
    assert as_hospital.status_code == 403
    body = bill_body(make_id_number())
    no_token = await svc.client.post("/v1/settlements", json=body, headers={"Idempotency-Key": "x"})
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"] == "Bearer"
    wrong = await svc.client.post(
        "/v1/settlements",
        json=body,
        headers={"Idempotency-Key": "x", "Authorization": "Bearer mk_not-a-key"},
    )
    assert wrong.status_code == 401
    admin_settles = await svc.client.post(
        "/v1/settlements", json=body, headers={"Idempotency-Key": "x", **admin_headers()}
    )
    assert admin_settles.status_code == 403
    async with svc.app.state.ctx.db.read() as conn:
        stored = (
            await conn.execute(
                text("SELECT api_key_hash FROM hospitals WHERE code = :c"), {"c": code}
            )
        ).scalar_one()
    assert created["api_key"] not in stored
