"""The registry client against a respx-mocked registry: answers, 404, failures, retry, and the
per-person cache (an answer serves every date inside its span until the TTL expires)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
import respx

from settlement.registry_client import Eligibility, RegistryClient, RegistryUnavailable
from settlement.registry_client.client import MAX_ANSWER_BYTES

BASE = "http://registry.example"
PERSON = "370305198001011237"
ON = date(2026, 3, 2)
URL = f"{BASE}/v1/persons/{PERSON}/eligibility"
ANSWER = {
    "id_number_masked": "370305********1237",
    "name": "张三",
    "household_code": "HH0001",
    "region_code": "370305",
    "categories": ["registered_poor", "dibao"],
    "registered": True,
    "on": "2026-03-02",
    "valid_from": "2026-01-01",
    "valid_to": "2026-06-30",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mock() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def client(
    http: httpx.AsyncClient,
    clock: Clock | None = None,
    ttl_s: float = 60,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> RegistryClient:
    return RegistryClient(
        http,
        base_url=BASE + "/",
        token="read-token-0123456789",
        ttl_s=ttl_s,
        timeout_s=0.5,
        retry_after_s=7,
        max_answer_bytes=max_answer_bytes,
        clock=clock or Clock(),
    )


async def test_success_parses_the_answer_and_sends_token_and_date(
    mock: respx.MockRouter,
) -> None:
    route = mock.get(URL).respond(200, json=ANSWER)
    async with httpx.AsyncClient() as http:
        answer = await client(http).eligibility(PERSON, ON, request_id="req-42")
    assert answer == Eligibility.model_validate(ANSWER)
    assert answer is not None
    assert answer.categories == ("registered_poor", "dibao")
    request = route.calls.last.request
    assert request.url.params["on"] == "2026-03-02"
    assert request.headers["authorization"] == "Bearer read-token-0123456789"
    assert request.headers["x-request-id"] == "req-42"


async def test_without_request_id_no_header_is_sent(mock: respx.MockRouter) -> None:
    route = mock.get(URL).respond(200, json=ANSWER)
    async with httpx.AsyncClient() as http:
        await client(http).eligibility(PERSON, ON)
    assert "x-request-id" not in route.calls.last.request.headers


async def test_unknown_person_is_none(mock: respx.MockRouter) -> None:
    mock.get(URL).respond(404, json={"title": "Not Found", "status": 404})
    async with httpx.AsyncClient() as http:
        assert await client(http).eligibility(PERSON, ON) is None


async def test_timeout_is_unavailable_without_retry(mock: respx.MockRouter) -> None:
    route = mock.get(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable) as caught:
            await client(http).eligibility(PERSON, ON)
    assert route.call_count == 1
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "7"
    assert "timed out" in caught.value.detail


@pytest.mark.parametrize("status", [500, 502, 503, 401, 400])
async def test_error_status_is_unavailable(mock: respx.MockRouter, status: int) -> None:
    route = mock.get(URL).respond(status, json={"title": "nope"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable) as caught:
            await client(http).eligibility(PERSON, ON)
    assert route.call_count == 1
    assert f"HTTP {status}" in caught.value.detail


async def test_unreadable_answer_is_unavailable(mock: respx.MockRouter) -> None:
    mock.get(URL).respond(200, json={"unexpected": True})
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable):
            await client(http).eligibility(PERSON, ON)


async def test_an_answer_up_to_the_size_limit_is_read(mock: respx.MockRouter) -> None:
    body = json.dumps(ANSWER).encode()
    body = body[:-1] + b" " * (2048 - len(body)) + b"}"
    mock.get(URL).respond(200, content=body, headers={"content-type": "application/json"})
    async with httpx.AsyncClient() as http:
        answer = await client(http, max_answer_bytes=2048).eligibility(PERSON, ON)
    assert answer == Eligibility.model_validate(ANSWER)


async def test_an_answer_over_the_size_limit_is_unavailable(mock: respx.MockRouter) -> None:
    route = mock.get(URL).respond(200, content=b" " * 2049)
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable) as caught:
            await client(http, max_answer_bytes=2048).eligibility(PERSON, ON)
    assert route.call_count == 1
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "7"
    assert "larger than 2048 bytes" in caught.value.detail


async def test_a_streamed_answer_over_the_size_limit_is_not_read_to_the_end(
    mock: respx.MockRouter,
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 10 * 1024 * 1024:
            sent += 1024
            yield b" " * 1024

    mock.get(URL).mock(side_effect=lambda request: httpx.Response(200, content=endless()))
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable) as caught:
            await client(http, max_answer_bytes=4096).eligibility(PERSON, ON)
    assert "larger than 4096 bytes" in caught.value.detail
    assert sent <= 5 * 1024  # stopped at the first chunk past the limit


async def test_one_retry_on_connection_error(mock: respx.MockRouter) -> None:
    route = mock.get(URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=ANSWER)]
    )
    async with httpx.AsyncClient() as http:
        answer = await client(http).eligibility(PERSON, ON)
    assert answer is not None
    assert route.call_count == 2


async def test_two_connection_errors_are_unavailable(mock: respx.MockRouter) -> None:
    route = mock.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable) as caught:
            await client(http).eligibility(PERSON, ON)
    assert route.call_count == 2
    assert "cannot connect" in caught.value.detail


async def test_a_connect_timeout_is_not_retried_by_the_client(mock: respx.MockRouter) -> None:
    # The production transport has already made the connection attempt twice.
    route = mock.get(URL).mock(side_effect=httpx.ConnectTimeout("slow to connect"))
    async with httpx.AsyncClient() as http:
        with pytest.raises(RegistryUnavailable) as caught:
            await client(http).eligibility(PERSON, ON)
    assert route.call_count == 1
    assert "cannot connect (ConnectTimeout)" in caught.value.detail


async def test_answers_are_cached_for_the_ttl(mock: respx.MockRouter) -> None:
    route = mock.get(URL).respond(200, json=ANSWER)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        registry = client(http, clock, ttl_s=60)
        await registry.eligibility(PERSON, ON)
        await registry.eligibility(PERSON, ON)
        assert route.call_count == 1
        clock.now += 59
        await registry.eligibility(PERSON, ON)
        assert route.call_count == 1
        clock.now += 2  # the answer is 61 s old
        await registry.eligibility(PERSON, ON)
        assert route.call_count == 2


async def test_a_date_inside_the_span_is_answered_from_the_cache(mock: respx.MockRouter) -> None:
    route = mock.get(URL).respond(200, json=ANSWER)
    async with httpx.AsyncClient() as http:
        registry = client(http)
        first = await registry.eligibility(PERSON, ON)
        for day in (date(2026, 1, 1), date(2026, 3, 3), date(2026, 6, 30)):
            assert await registry.eligibility(PERSON, day) == first
    assert route.call_count == 1


async def test_a_date_outside_the_span_asks_again(mock: respx.MockRouter) -> None:
    later = {**ANSWER, "categories": [], "on": "2026-07-01", "valid_from": "2026-07-01"}
    later["valid_to"] = None
    route = mock.get(URL).mock(
        side_effect=[httpx.Response(200, json=ANSWER), httpx.Response(200, json=later)]
    )
    async with httpx.AsyncClient() as http:
        registry = client(http)
        await registry.eligibility(PERSON, ON)
        answer = await registry.eligibility(PERSON, date(2026, 7, 1))
        assert answer is not None
        assert answer.categories == ()
        assert route.call_count == 2
        assert route.calls.last.request.url.params["on"] == "2026-07-01"
        # The newer answer is open-ended: any later date is served by it.
        assert await registry.eligibility(PERSON, date(2030, 1, 1)) == answer
        assert route.call_count == 2


async def test_an_answer_without_a_span_holds_for_its_date_only(mock: respx.MockRouter) -> None:
    bare = {k: v for k, v in ANSWER.items() if k not in ("valid_from", "valid_to")}
    route = mock.get(URL).respond(200, json=bare)
    async with httpx.AsyncClient() as http:
        registry = client(http)
        await registry.eligibility(PERSON, ON)
        await registry.eligibility(PERSON, ON)
        assert route.call_count == 1
        await registry.eligibility(PERSON, date(2026, 3, 3))
        assert route.call_count == 2


async def test_unknown_person_is_cached_for_every_date(mock: respx.MockRouter) -> None:
    unknown = "11010519491231002X"
    route = mock.get(f"{BASE}/v1/persons/{unknown}/eligibility").respond(404)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        registry = client(http, clock, ttl_s=60)
        assert await registry.eligibility(unknown, ON) is None
        assert await registry.eligibility(unknown, date(2020, 5, 5)) is None
        assert route.call_count == 1  # "not registered" is cached too
        clock.now += 61
        assert await registry.eligibility(unknown, ON) is None
        assert route.call_count == 2


async def test_failures_are_not_cached(mock: respx.MockRouter) -> None:
    route = mock.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200, json=ANSWER)])
    async with httpx.AsyncClient() as http:
        registry = client(http)
        with pytest.raises(RegistryUnavailable):
            await registry.eligibility(PERSON, ON)
        assert await registry.eligibility(PERSON, ON) is not None
    assert route.call_count == 2


async def test_ttl_zero_disables_the_cache(mock: respx.MockRouter) -> None:
    route = mock.get(URL).respond(200, json=ANSWER)
    async with httpx.AsyncClient() as http:
        registry = client(http, ttl_s=0)
        await registry.eligibility(PERSON, ON)
        await registry.eligibility(PERSON, ON)
    assert route.call_count == 2


async def test_concurrent_questions_share_one_request(mock: respx.MockRouter) -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json=ANSWER)

    route = mock.get(URL).mock(side_effect=slow)
    async with httpx.AsyncClient() as http:
        registry = client(http)
        tasks = [asyncio.create_task(registry.eligibility(PERSON, ON)) for _ in range(10)]
        await asyncio.sleep(0.01)
        release.set()
        answers = await asyncio.gather(*tasks)
    assert route.call_count == 1
    assert all(a == answers[0] for a in answers)


async def test_concurrent_questions_on_other_dates_share_one_request(
    mock: respx.MockRouter,
) -> None:
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        await asyncio.sleep(0.01)  # every request is still in flight when the others ask
        on = request.url.params["on"]
        if on > "2026-06-30":
            later = {**ANSWER, "on": on, "valid_from": "2026-07-01", "valid_to": None}
            return httpx.Response(200, json=later)
        return httpx.Response(200, json=ANSWER)

    route = mock.get(URL).mock(side_effect=slow)
    days = [ON, date(2026, 1, 1), date(2026, 6, 30), date(2026, 8, 1), date(2026, 9, 1)]
    async with httpx.AsyncClient() as http:
        registry = client(http, ttl_s=0)  # no cache: only the shared request answers
        tasks = [asyncio.create_task(registry.eligibility(PERSON, day)) for day in days]
        await asyncio.sleep(0.01)
        release.set()
        answers = await asyncio.gather(*tasks)
    # The three dates inside the first answer's span share it; the other two share a second.
    assert route.call_count == 2
    assert [a.valid_to if a else "?" for a in answers] == [date(2026, 6, 30)] * 3 + [None] * 2


async def test_concurrent_failure_reaches_every_waiter(mock: respx.MockRouter) -> None:
    release = asyncio.Event()

    async def failing(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(500)

    mock.get(URL).mock(side_effect=failing)
    async with httpx.AsyncClient() as http:
        registry = client(http)
        tasks = [asyncio.create_task(registry.eligibility(PERSON, ON)) for _ in range(3)]
        await asyncio.sleep(0.01)
        release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RegistryUnavailable) for r in results)
