"""The registry client over its production transport (httpx's own, as ``default_transport``
configures it) against real local HTTP servers on 127.0.0.1: connections are reused and the pool
stays within its limit, a connection the server closed is replaced, chunked and
``Connection: close`` answers are read, a failed connection attempt is made again, an answer
over the size limit is refused, and failures (refused connection, no answer, broken answer)
become :class:`RegistryUnavailable`."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from typing import Any

import httpcore
import httpx
import pytest
import uvicorn

from settlement.registry_client import (
    Eligibility,
    RegistryClient,
    RegistryUnavailable,
    default_transport,
)
from settlement.registry_client.client import MAX_ANSWER_BYTES
from tests.support.data import id_number

PERSON = "370305198001011237"
ON = date(2026, 3, 2)
PATH = f"/v1/persons/{PERSON}/eligibility?on={ON.isoformat()}"
ANSWER = (
    b'{"id_number_masked":"370305********1237","name":"\\u5f20\\u4e09","categories":["dibao"],'
    b'"registered":true,"on":"2026-03-02","valid_from":"2026-01-01","valid_to":null}'
)

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Gets the request head, writes an answer; ``False`` closes the connection."""
Serve = Callable[[Handler], Awaitable["Server"]]


class Server:
    """A raw HTTP/1.1 server: every answer is written byte for byte by the test's handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if not await self.handler(head, writer):
                    return
                await writer.drain()
        except ConnectionError:
            return  # the client dropped the connection mid-answer
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


def answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % len(body) + body
    )


def registry(
    url: str,
    http: httpx.AsyncClient,
    *,
    timeout_s: float = 2.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> RegistryClient:
    """A client without a cache: every question reaches the server."""
    return RegistryClient(
        http,
        base_url=url,
        token="t" * 20,
        ttl_s=0,
        timeout_s=timeout_s,
        max_answer_bytes=max_answer_bytes,
    )


def production_http(**transport: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=False, transport=default_transport(**transport))


async def test_connections_are_reused_and_the_request_is_sent_as_given(serve: Serve) -> None:
    heads: list[bytes] = []

    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        heads.append(head)
        writer.write(answer(ANSWER))
        return True

    server = await serve(handler)
    async with production_http() as http:
        client = registry(server.url, http)
        for _ in range(5):
            found = await client.eligibility(PERSON, ON, request_id="req-1")
            assert found is not None
            assert found.categories == ("dibao",)
    assert server.connections == 1
    assert len(heads) == 5
    head = heads[0].lower()
    assert head.startswith(f"get {PATH} http/1.1\r\n".lower().encode())
    assert b"\r\nauthorization: bearer " + b"t" * 20 + b"\r\n" in head
    assert b"\r\naccept: application/json\r\n" in head
    assert b"\r\nx-request-id: req-1\r\n" in head


async def test_the_pool_keeps_its_connections_and_stays_within_its_limit(serve: Serve) -> None:
    in_flight = 0
    most = 0

    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        writer.write(answer(ANSWER))
        return True

    server = await serve(handler)
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=30)
    async with production_http(limits=limits) as http:
        client = registry(server.url, http)
        for _ in range(2):
            people = [id_number(seq) for seq in range(12)]  # one request each: no sharing
            answers = await asyncio.gather(*(client.eligibility(p, ON) for p in people))
            assert all(isinstance(a, Eligibility) for a in answers)
    assert most == 4  # twelve questions at once, four at a time
    assert server.connections == 4  # the second round reused the first round's connections


async def test_a_connection_the_server_closed_is_replaced(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(ANSWER))
        return False  # closes after each answer without saying so

    server = await serve(handler)
    async with production_http() as http:
        client = registry(server.url, http)
        for _ in range(3):
            assert await client.eligibility(PERSON, ON) is not None
            await asyncio.sleep(0.01)
    assert server.connections == 3


async def test_connection_close_and_chunked_answers(serve: Serve) -> None:
    async def not_found(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            b'5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
        )
        return False

    server = await serve(not_found)
    async with production_http() as http:
        client = registry(server.url, http)
        assert await client.eligibility(PERSON, ON) is None
        assert await client.eligibility(PERSON, ON) is None
    assert server.connections == 2

    async def chunked(head: bytes, writer: asyncio.StreamWriter) -> bool:
        middle = len(ANSWER) // 2
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (middle, ANSWER[:middle])
            + b"%x\r\n%s\r\n" % (len(ANSWER) - middle, ANSWER[middle:])
            + b"0\r\n\r\n"
        )
        return True

    server = await serve(chunked)
    async with production_http() as http:
        found = await registry(server.url, http).eligibility(PERSON, ON)
    assert found is not None
    assert found.name == "张三"
    assert found.valid_from == date(2026, 1, 1)


async def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with production_http() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{url}/x")
        with pytest.raises(RegistryUnavailable) as caught:
            await registry(url, http).eligibility(PERSON, ON)
    assert caught.value.status == 503
    assert "cannot connect (ConnectError)" in caught.value.detail


class FlakyNetwork(httpcore.AsyncNetworkBackend):
    """The network under the transport's pool: the first ``failures`` connection attempts are
    refused."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.attempts = 0

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise httpcore.ConnectError("connection refused")
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@pytest.mark.parametrize(
    ("failures", "attempts", "answered"),
    [(1, 2, True), (3, 4, True), (4, 4, False)],
    ids=["transport-retry", "client-retry", "unavailable"],
)
async def test_failed_connection_attempts_are_made_again(
    serve: Serve, caplog: pytest.LogCaptureFixture, failures: int, attempts: int, answered: bool
) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(ANSWER))
        return True

    server = await serve(handler)
    transport = default_transport()
    pool = transport._pool  # httpx keeps its httpcore pool here; its network is swapped
    network = FlakyNetwork(pool._network_backend, failures)
    pool._network_backend = network
    async with httpx.AsyncClient(transport=transport) as http:
        client = registry(server.url, http)
        if answered:
            assert await client.eligibility(PERSON, ON) is not None
        else:
            with pytest.raises(RegistryUnavailable):
                await client.eligibility(PERSON, ON)
    assert network.attempts == attempts
    # The transport retries the connection once by itself; the client's own retry comes after.
    client_retried = any("retrying once" in r.getMessage() for r in caplog.records)
    assert client_retried == (failures > 1)


async def test_no_answer_is_a_timeout(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(1)
        return False

    server = await serve(handler)
    async with production_http() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{server.url}/x", timeout=httpx.Timeout(0.1))
        with pytest.raises(RegistryUnavailable) as caught:
            await registry(server.url, http, timeout_s=0.1).eligibility(PERSON, ON)
    assert "timed out" in caught.value.detail


async def test_a_broken_answer_is_retried_once_then_unavailable(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"trunc')
        return False

    server = await serve(handler)
    async with production_http() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{server.url}/x")
        before = server.connections
        with pytest.raises(RegistryUnavailable) as caught:
            await registry(server.url, http).eligibility(PERSON, ON)
    assert server.connections - before == 2
    assert "cannot connect (RemoteProtocolError)" in caught.value.detail


async def test_an_oversized_answer_is_refused(serve: Serve) -> None:
    limit = 1024
    padded = ANSWER[:-1] + b" " * (limit - len(ANSWER)) + b"}"
    assert len(padded) == limit

    async def exact(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(padded))
        return True

    async def declared(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(padded + b" "))
        return True

    total = 256 * 1024 * 1024
    sent = 0
    hung_up = asyncio.Event()

    async def endless(head: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal sent
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        try:
            while sent < total:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            hung_up.set()
            raise
        writer.write(b"0\r\n\r\n")
        return False

    async with production_http() as http:
        server = await serve(exact)
        assert await registry(server.url, http, max_answer_bytes=limit).eligibility(PERSON, ON)
        for handler in (declared, endless):
            server = await serve(handler)
            with pytest.raises(RegistryUnavailable) as caught:
                await registry(server.url, http, max_answer_bytes=limit).eligibility(PERSON, ON)
            assert caught.value.status == 503
            assert f"larger than {limit} bytes" in caught.value.detail
    # The client hung up on the endless answer instead of reading it to the end.
    await asyncio.wait_for(hung_up.wait(), timeout=10)
    assert sent < total


# ------------------------------------------------------------- a real uvicorn server


async def _eligibility_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI stand-in for the registry: every GET gets ``ANSWER``, streamed in two parts."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": ANSWER[:10], "more_body": True})
    await send({"type": "http.response.body", "body": ANSWER[10:]})


@pytest.fixture
def uvicorn_url() -> Iterator[str]:
    """uvicorn on a free port of 127.0.0.1 in a thread, closing idle connections after 1 s."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        _eligibility_app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_keep_alive=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


async def test_against_uvicorn_after_its_keep_alive_timeout(uvicorn_url: str) -> None:
    async with production_http() as http:
        client = registry(uvicorn_url, http)
        first = await client.eligibility(PERSON, ON)
        assert first is not None
        await asyncio.sleep(1.5)  # uvicorn has closed the idle connection meanwhile
        assert await client.eligibility(PERSON, ON) == first
