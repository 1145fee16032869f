"""An oversized body is refused with 413 before anything parses it: the body sent is not even
JSON, so any answer but 413 would show it was read and parsed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.security.conftest import MAX_BODY, Service
from tests.support.apps import REGISTRY_ADMIN_TOKEN, fill_path, iter_routes, migrate


def post_routes(app: Any) -> list[str]:
    return [path for path, methods in iter_routes(app) if "POST" in methods]


def token_for(service: str, target: Service) -> str:
    if service == "registry":
        return REGISTRY_ADMIN_TOKEN
    return next(iter(target.keys.values()))  # type: ignore[attr-defined]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_oversized_body_is_refused_before_parsing(
    service: tuple[str, Service], framing: str
) -> None:
    name, target = service
    routes = post_routes(target.app)
    assert routes
    junk = b"{" + b"x" * (MAX_BODY + 1024)
    headers = {
        "Authorization": f"Bearer {token_for(name, target)}",
        "Content-Type": "application/json",
        "Idempotency-Key": "oversized-1",
    }
    answers = {}
    for path in routes:
        pulled = [0]  # bytes the server read of a streamed body
        if framing == "chunked":

            async def chunks(pulled: list[int] = pulled) -> AsyncIterator[bytes]:
                for start in range(0, len(junk), 16 * 1024):
                    pulled[0] += 16 * 1024
                    yield junk[start : start + 16 * 1024]

            response = await target.client.post(fill_path(path), content=chunks(), headers=headers)
        else:
            response = await target.client.post(fill_path(path), content=junk, headers=headers)
        # A route that never reads its body (a logout) cannot parse it either.
        ignored = framing == "chunked" and pulled[0] <= 16 * 1024 and response.status_code < 400
        answers[path] = 413 if ignored else response.status_code
        if response.status_code == 413 and path.startswith("/v1/"):
            # API answers are problems; an HTML form (the admin login) may answer a page.
            assert "problem+json" in response.headers["content-type"]
    refused = {path: code for path, code in answers.items() if code != 413}
    assert not refused, refused


async def test_routes_with_their_own_limit_still_refuse_past_it(database_factory) -> None:
    """Reconciliation files may be larger than an ordinary request, up to their own limit."""
    from settlement.app import create_app
    from settlement.config import Settings

    url = database_factory("sqlite", "limits")
    await asyncio.to_thread(migrate, "settlement", url)
    settings = Settings(
        env="dev",
        database_url=url,
        max_body_bytes=1024,
        max_reconciliation_bytes=8 * 1024,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        headers = {"Content-Type": "application/json", "Authorization": "Bearer wrong-key"}
        medium = b"{" + b"x" * 4096
        large = b"{" + b"x" * 9000
        detail = "/v1/reconciliations/detail"
        # Past the default limit but within its own: read, then refused for the token.
        assert (await client.post(detail, content=medium, headers=headers)).status_code == 401
        assert (await client.post(detail, content=large, headers=headers)).status_code == 413
        assert (
            await client.post("/v1/settlements", content=medium, headers=headers)
        ).status_code == 413
