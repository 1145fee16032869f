"""The registry client's keep-alive transport against a real local HTTP server: connections are
reused, a connection the server closed is replaced, chunked answers are read, and failures map
to the httpx errors the client handles (connect error, read timeout, broken answer)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from settlement.registry_client.transport import KeepAliveTransport

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Gets the request head, writes an answer; ``False`` closes the connection."""
Serve = Callable[[Handler], Awaitable["Server"]]


class Server:
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
                except asyncio.IncompleteReadError:
                    return
                if not await self.handler(head, writer):
                    return
                await writer.drain()
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


def answer(body: bytes, *, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


async def test_connections_are_reused_and_the_request_is_sent_as_given(serve: Serve) -> None:
    heads: list[bytes] = []

    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        heads.append(head)
        writer.write(answer(b'{"ok":true}'))
        return True

    server = await serve(handler)
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as http:
        for _ in range(5):
            response = await http.get(
                f"{server.url}/v1/persons/X/eligibility?on=2026-03-02",
                headers={"Authorization": "Bearer t"},
            )
            assert response.status_code == 200
            assert response.json() == {"ok": True}
    assert server.connections == 1
    assert heads[0].startswith(b"GET /v1/persons/X/eligibility?on=2026-03-02 HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer t\r\n" in heads[0]


async def test_a_connection_the_server_closed_is_replaced(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"{}"))
        return False  # closes after each answer without saying so

    server = await serve(handler)
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as http:
        for _ in range(3):
            assert (await http.get(f"{server.url}/a")).status_code == 200
            await asyncio.sleep(0.01)
    assert server.connections == 3


async def test_connection_close_and_chunked_answers(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            b'5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
        )
        return False

    server = await serve(handler)
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as http:
        first = await http.get(f"{server.url}/x")
        second = await http.get(f"{server.url}/x")
    assert first.status_code == second.status_code == 404
    assert first.json() == {"a": 1}
    assert server.connections == 2


async def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/x")


async def test_no_answer_is_a_read_timeout(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(1)
        return False

    server = await serve(handler)
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{server.url}/x", timeout=httpx.Timeout(0.1))


async def test_a_broken_answer_is_a_protocol_error(serve: Serve) -> None:
    async def handler(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"trunc')
        return False

    server = await serve(handler)
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{server.url}/x")
