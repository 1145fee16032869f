import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from shared.errors import NotFound, ServiceUnavailable, field_path, install_problem_handlers
from shared.limits import BodySizeLimitMiddleware
from shared.money import Money


class Item(BaseModel):
    amount: Money


class Body(BaseModel):
    items: list[Item]


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=1000)

    @app.post("/things")
    async def things(body: Body) -> dict[str, int]:
        return {"n": len(body.items)}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("No such thing.")

    @app.get("/down")
    async def down() -> None:
        raise ServiceUnavailable("Registry unreachable.", retry_after=7)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def test_field_path() -> None:
    assert field_path(("body", "items", 0, "amount")) == "items[0].amount"
    assert field_path(("query", "on")) == "query.on"
    assert field_path(("body",)) == "body"


async def test_validation_error_names_the_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/things", json={"items": [{"amount": "1.00"}, {"amount": "1.001"}]})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422
    assert body["errors"] == [
        {"field": "items[1].amount", "message": "must have at most two decimals"}
    ]


async def test_problem_classes_render(client: httpx.AsyncClient) -> None:
    r = await client.get("/missing")
    assert (r.status_code, r.json()["detail"]) == (404, "No such thing.")
    r = await client.get("/down")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "7"
    r = await client.get("/nowhere")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


async def test_unexpected_error_is_a_500_problem_without_details(client: httpx.AsyncClient) -> None:
    r = await client.get("/boom")
    assert r.status_code == 500
    assert "secret detail" not in r.text
    assert r.json()["title"] == "Internal Server Error"


async def test_oversized_body_refused_before_parsing(client: httpx.AsyncClient) -> None:
    big = {"items": [{"amount": "1.00"}] * 200}
    r = await client.post("/things", json=big)
    assert r.status_code == 413
    assert r.json()["status"] == 413


async def test_oversized_streamed_body_refused(client: httpx.AsyncClient) -> None:
    async def chunks():
        yield b'{"items": ['
        for _ in range(200):
            yield b'{"amount": "1.00"},'
        yield b'{"amount": "1.00"}]}'

    r = await client.post("/things", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_route_limit_overrides_the_default() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=100, route_limits={"/big/": 10_000})

    @app.post("/big")
    async def big(body: Body) -> dict[str, int]:
        return {"n": len(body.items)}

    @app.post("/small")
    async def small(body: Body) -> dict[str, int]:
        return {"n": len(body.items)}

    payload = {"items": [{"amount": "1.00"}] * 50}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.post("/big", json=payload)).json() == {"n": 50}
        r = await c.post("/small", json=payload)
        assert r.status_code == 413
        assert "100 bytes" in r.json()["detail"]


async def test_invalid_json_is_a_422_naming_the_body(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/things", content=b'{"items": [', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    r = await client.post(
        "/things", content=b'{"items": "\xff"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"


async def test_problem_instance_masks_id_numbers() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/persons/{id_number}/x")
    async def person(id_number: str) -> None:
        raise NotFound("No such person.")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/v1/persons/11010519491231002X/x")
    assert r.status_code == 404
    assert r.json()["instance"] == "/v1/persons/110105********002X/x"
    assert "19491231" not in r.text
