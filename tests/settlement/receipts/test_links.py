"""A bill's ``receipt_url``: a signed, expiring link that opens that bill's receipt without a
Bearer header, and nothing else (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

import httpx

from settlement.settlements.receipt_links import RECEIPT_PURPOSE, ReceiptLinks
from shared.security import sign_token
from tests.settlement.conftest import (
    RECEIPT_SECRET,
    Service,
    bill_body,
    make_id_number,
    settle,
    standard_items,
    start_service,
)

LINK = re.compile(
    r"^/v1/receipts/(?P<setl_id>[A-Za-z0-9]+)\?token=(?P<token>(?P<exp>\d+)\.[\w-]+)$"
)
DAY = 24 * 3600


def parts(url: str) -> dict[str, str]:
    match = LINK.match(url)
    assert match, url
    return match.groupdict()


async def settled_bill(svc: Service) -> tuple[Any, dict[str, Any]]:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "registered_poor")
    response = await settle(svc, hospital, bill_body(person, items=standard_items()))
    assert response.status_code == 201, response.text
    return hospital, response.json()


async def open_link(svc: Service, url: str) -> httpx.Response:
    """As a browser: no Authorization header, no cookie."""
    return await svc.client.get(url, headers={"Accept": "text/html"})


def refused(response: httpx.Response, bill: dict[str, Any] | None = None) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "结算单链接无效或已过期" in response.text
    assert "not valid or has expired" in response.text
    assert response.headers["cache-control"] == "no-store"
    if bill is not None:  # the refusal shows nothing of the bill
        assert bill["patient"]["id_number_masked"] not in response.text
        assert bill["psn_cash_pay"] not in response.text


async def test_the_bill_carries_a_link_that_opens_its_receipt_without_a_key(svc: Service) -> None:
    hospital, bill = await settled_bill(svc)
    link = parts(bill["receipt_url"])
    assert link["setl_id"] == bill["setl_id"]
    # 24 h from the answer (the token carries its expiry in Unix seconds).
    assert abs(int(link["exp"]) - (time.time() + DAY)) <= 5

    opened = await open_link(svc, bill["receipt_url"])
    assert opened.status_code == 200, opened.text
    assert opened.headers["content-type"].startswith("text/html")
    assert opened.headers["cache-control"] == "no-store"
    assert opened.headers["referrer-policy"] == "no-referrer"
    # The same page the hospital gets with its key.
    with_key = await svc.client.get(
        f"/v1/settlements/{bill['setl_id']}/receipt", headers=hospital.headers()
    )
    assert with_key.status_code == 200
    assert opened.text == with_key.text
    assert "一站式结算单" in opened.text
    assert bill["psn_cash_pay"] in opened.text


async def test_every_answer_for_the_bill_carries_a_working_link(svc: Service) -> None:
    hospital, bill = await settled_bill(svc)
    setl_id = bill["setl_id"]
    queried = (
        await svc.client.get(f"/v1/settlements/{setl_id}", headers=hospital.headers())
    ).json()
    day = bill["setl_date"]
    listed = (
        await svc.client.get(f"/v1/settlements?date={day}", headers=hospital.headers())
    ).json()["items"]
    in_list = next(b for b in listed if b["setl_id"] == setl_id)
    revoked = await svc.client.post(f"/v1/settlements/{setl_id}/revoke", headers=hospital.headers())
    assert revoked.status_code == 200
    by_reversal = (
        await svc.client.get(
            f"/v1/settlements/{revoked.json()['reversal']['setl_id']}", headers=hospital.headers()
        )
    ).json()
    for answer in (queried, in_list, revoked.json(), by_reversal):
        assert parts(answer["receipt_url"])["setl_id"] == setl_id  # the bill, never the reversal
        opened = await open_link(svc, answer["receipt_url"])
        assert opened.status_code == 200, opened.text
    # A revoked bill's receipt shows its reversal, through the link too.
    assert "冲销记录" in (await open_link(svc, revoked.json()["receipt_url"])).text


async def test_a_preview_has_no_link(svc: Service) -> None:
    hospital = await svc.hospital()
    person = svc.registry.add(make_id_number(), "dibao")
    preview = await svc.client.post(
        "/v1/settlements/preview", json=bill_body(person), headers=hospital.headers()
    )
    assert preview.status_code == 200, preview.text
    assert "receipt_url" in preview.json()
    assert preview.json()["receipt_url"] is None


async def test_an_altered_expired_or_missing_token_is_refused(svc: Service) -> None:
    _, bill = await settled_bill(svc)
    link = parts(bill["receipt_url"])
    setl_id, token, exp = link["setl_id"], link["token"], link["exp"]
    signature = token.split(".", 1)[1]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    base = f"/v1/receipts/{setl_id}"
    links = svc.app.state.ctx.settlements.receipt_links
    expired = links.token(setl_id, now=time.time() - DAY - 1)
    for url in (
        f"{base}?token={exp}.{flipped}",  # the signature altered
        f"{base}?token={int(exp) + 3600}.{signature}",  # the expiry pushed back
        f"{base}?token=0{exp}.{signature}",  # the expiry spelt another way
        f"{base}?token={expired}",  # expired
        f"{base}?token={exp}",  # no signature
        f"{base}?token=",
        base,  # no token
        f"{base}?token={'9' * 80}.{signature}",  # far too long
        f"{base}?token={sign_token('another-secret-0123456789', RECEIPT_PURPOSE, setl_id, 2**40)}",
        f"{base}?token={sign_token(RECEIPT_SECRET, 'medaid-admin', setl_id, 2**40)}",
    ):
        refused(await open_link(svc, url), bill)


async def test_the_token_opens_that_bill_and_nothing_else(svc: Service) -> None:
    hospital, bill = await settled_bill(svc)
    _, other = await settled_bill(svc)
    token = parts(bill["receipt_url"])["token"]
    setl_id = bill["setl_id"]

    # Not another bill's receipt, nor the bill's own reversal id.
    refused(await open_link(svc, f"/v1/receipts/{other['setl_id']}?token={token}"), other)
    revoked = await svc.client.post(f"/v1/settlements/{setl_id}/revoke", headers=hospital.headers())
    reversal_id = revoked.json()["reversal"]["setl_id"]
    refused(await open_link(svc, f"/v1/receipts/{reversal_id}?token={token}"))

    # Not an API credential: as a Bearer token, or as ``?token=`` on the API, it is a 401.
    as_bearer = {"Authorization": f"Bearer {token}"}
    for path in (
        f"/v1/settlements/{setl_id}",
        f"/v1/settlements/{setl_id}/receipt",
        f"/v1/settlements?date={bill['setl_date']}",
        "/v1/reconciliations",
    ):
        assert (await svc.client.get(path, headers=as_bearer)).status_code == 401, path
    assert (
        await svc.client.get(f"/v1/settlements/{setl_id}/receipt?token={token}")
    ).status_code == 401
    revoke = await svc.client.post(f"/v1/settlements/{setl_id}/revoke", headers=as_bearer)
    assert revoke.status_code == 401
    # Nor the administrator's page: its receipt sends the browser to the sign-in form.
    admin = await svc.client.get(f"/admin/bills/{setl_id}/receipt?token={token}")
    assert admin.status_code in (302, 303)
    assert "一站式结算单" not in admin.text


async def test_a_valid_token_for_a_bill_that_does_not_exist_is_a_404_page(svc: Service) -> None:
    links: ReceiptLinks = svc.app.state.ctx.settlements.receipt_links
    missing = "S20260101000000000000abcdef"
    response = await open_link(svc, f"/v1/receipts/{missing}?token={links.token(missing)}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "结算单不存在" in response.text


async def test_a_link_expires_after_its_lifetime(svc: Service) -> None:
    _, bill = await settled_bill(svc)
    settlements = svc.app.state.ctx.settlements
    links: ReceiptLinks = settlements.receipt_links
    exp = int(parts(bill["receipt_url"])["exp"])
    try:
        settlements.receipt_links = replace(links, clock=lambda: exp - 1)
        assert (await open_link(svc, bill["receipt_url"])).status_code == 200
        settlements.receipt_links = replace(links, clock=lambda: exp)
        refused(await open_link(svc, bill["receipt_url"]), bill)
    finally:
        settlements.receipt_links = links


async def test_lifetime_and_public_address_come_from_the_settings(svc: Service) -> None:
    if svc.backend != "sqlite":
        return  # settings only: one backend is enough
    public = "https://medaid.example.org/settle"
    service, lifespan = await start_service(
        svc.url, "sqlite", receipt_ttl_s=600, public_url=public + "/"
    )
    try:
        hospital = await service.hospital()
        person = service.registry.add(make_id_number(), "destitute")
        response = await settle(service, hospital, bill_body(person))
        assert response.status_code == 201, response.text
        url = response.json()["receipt_url"]
        assert url.startswith(public + "/v1/receipts/")
        link = parts(url.removeprefix(public))
        assert abs(int(link["exp"]) - (time.time() + 600)) <= 5
        opened = await open_link(service, url.removeprefix(public))
        assert opened.status_code == 200
        # Another secret: the links of this service open nothing there.
        other, other_lifespan = await start_service(
            svc.url, "sqlite", receipt_secret="another-receipt-secret-0123456789"
        )
        try:
            refused(await open_link(other, url.removeprefix(public)))
        finally:
            await other.client.aclose()
            await other_lifespan.__aexit__(None, None, None)
    finally:
        await service.client.aclose()
        await lifespan.__aexit__(None, None, None)
