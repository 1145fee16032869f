"""Every endpoint but health, readiness, metrics and the API docs refuses a request without a
token or with a wrong one. Routes are enumerated from the app, so new endpoints are covered."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import Service
from tests.support.apps import LINK_PATHS, PUBLIC_PATHS, WRONG_TOKEN, fill_path, iter_routes
from tests.support.processes import REPO_ROOT


def protected_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for path, methods in iter_routes(app):
        if path in PUBLIC_PATHS or path in LINK_PATHS or "login" in path:
            continue  # a login form is how a token is given; links are checked below
        out.extend((m, path) for m in sorted(methods) if m not in ("HEAD", "OPTIONS"))
    return out


def refused(response: Any) -> bool:
    if response.status_code == 401:
        return True
    # An HTML page may send the browser to its login form instead.
    location = response.headers.get("location", "")
    return response.status_code in (302, 303, 307) and "login" in location


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {WRONG_TOKEN}", "Bearer", f"Basic {WRONG_TOKEN}", f"bearer {WRONG_TOKEN}x"],
    ids=["missing", "wrong", "empty", "basic", "wrong-lowercase"],
)
async def test_every_endpoint_refuses_a_missing_or_wrong_token(
    service: tuple[str, Service], authorization: str | None
) -> None:
    target = service[1]
    routes = protected_routes(target.app)
    assert len(routes) >= 3, routes
    headers = {"Authorization": authorization} if authorization else {}
    let_through = []
    for method, path in routes:
        kwargs: dict[str, Any] = {"headers": {**headers, "Idempotency-Key": "sec-1"}}
        if method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = {}
        response = await target.client.request(method, fill_path(path), **kwargs)
        if not refused(response):
            let_through.append(f"{method} {path} → {response.status_code}")
    assert not let_through, let_through


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {WRONG_TOKEN}", "Bearer", f"Basic {WRONG_TOKEN}"],
    ids=["missing", "wrong", "empty", "basic"],
)
@pytest.mark.parametrize("token", [None, "", "1.x", f"9999999999.{'A' * 43}"])
async def test_link_pages_refuse_a_missing_or_wrong_link_token(
    service: tuple[str, Service], authorization: str | None, token: str | None
) -> None:
    """Pages opened by a signed link (a bill's ``receipt_url``) refuse anything but that
    link's token, whatever Authorization header comes with it: a 403 page."""
    target = service[1]
    paths = [path for path, _ in iter_routes(target.app) if path in LINK_PATHS]
    if service[0] == "settlement":
        assert paths, "the receipt link route is gone"
    headers = {"Authorization": authorization} if authorization else {}
    for path in paths:
        params = {} if token is None else {"token": token}
        response = await target.client.get(fill_path(path), params=params, headers=headers)
        assert response.status_code == 403, (path, response.status_code)
        assert response.headers["content-type"].startswith("text/html")


async def test_public_endpoints_answer_without_a_token(service: tuple[str, Service]) -> None:
    target = service[1]
    for path in ("/healthz", "/openapi.json"):
        assert (await target.client.get(path)).status_code == 200, path


def _suspicious_comparisons(source: str) -> list[int]:
    """Lines where a token or key is compared with ``==``/``!=`` (not constant time)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        names = []
        for operand in [node.left, *node.comparators]:
            if isinstance(operand, ast.Name):
                names.append(operand.id.lower())
            elif isinstance(operand, ast.Attribute):
                names.append(operand.attr.lower())
        secret = [
            n
            for n in names
            if ("token" in n or "api_key" in n or n in ("key", "secret", "password"))
            and not any(w in n for w in ("idempotency", "hash", "cache", "label", "kind"))
        ]
        if secret and len(names) == 2:
            lines.append(node.lineno)
    return lines


def test_tokens_are_compared_in_constant_time() -> None:
    """No service or shared code compares a secret with ``==``; they use
    ``shared.security.secrets_equal`` (``hmac.compare_digest``) or look up a hash."""
    offenders = []
    for folder in ("services/registry/src", "services/settlement/src", "shared/src"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            # Settings checks at start-up (e.g. "read token equals admin token") handle no
            # request, so timing tells an attacker nothing there.
            if "migrations" in path.parts or path.name == "config.py":
                continue
            for line in _suspicious_comparisons(path.read_text()):
                offenders.append(f"{Path(path).relative_to(REPO_ROOT)}:{line}")
    assert not offenders, offenders
    from shared.security import secrets_equal

    assert secrets_equal("a" * 40, "a" * 40)
    assert not secrets_equal("a" * 40, "a" * 39 + "b")
