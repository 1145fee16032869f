"""A lean HTTP/1.1 keep-alive transport for the registry client.

The registry answers small JSON documents to one settlement process at a high rate; httpx's
default transport (httpcore on anyio) spends more CPU per call than the rest of a settle's
request handling. This transport keeps idle connections on a stack per origin and speaks
HTTP/1.1 directly over asyncio streams; httpx still builds the request and the response, so
the client's behaviour and its error mapping are unchanged:

* connection refused / unreachable → ``httpx.ConnectError``; connect timeout →
  ``httpx.ConnectTimeout``; no answer within the read timeout → ``httpx.ReadTimeout``;
* a reused keep-alive connection that the server had closed is replaced once, transparently;
  a connection that breaks mid-answer → ``httpx.RemoteProtocolError``;
* a connection is only reused after a complete answer without ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NO_BODY_STATUS = frozenset({204, 304})
_BROKEN = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class _Stale(Exception):
    """The server closed a reused idle connection before answering."""


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """``max_idle`` idle connections are kept per origin (enough for the number of requests
    the service has in flight at once); more are opened when needed and closed after use."""

    def __init__(self, *, max_idle: int = 128, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 80))
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        body = await request.aread()
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), url.raw_path)]
        head.extend(b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw)
        head.append(b"\r\n")
        if body:
            head.append(body)
        message = b"".join(head)
        idle = self._idle.setdefault(origin, deque())
        while True:
            conn = None
            while idle:
                candidate = idle.pop()
                if candidate.usable():
                    conn = candidate
                    break
                candidate.close()
            reused = conn is not None
            if conn is None:
                conn = await self._connect(origin, timeouts.get("connect"), request)
            try:
                conn.writer.write(message)
                async with asyncio.timeout(timeouts.get("read")):
                    status, reason, headers, content, keep = await _read_response(
                        conn.reader, request.method, reused
                    )
            except _Stale:
                conn.close()
                continue  # the server had closed the idle connection: take a fresh one
            except TimeoutError as exc:
                conn.close()
                raise httpx.ReadTimeout(
                    "no answer within the read timeout", request=request
                ) from exc
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ) as exc:
                conn.close()
                raise httpx.RemoteProtocolError(
                    f"the connection broke or the answer could not be read ({exc!r})",
                    request=request,
                ) from exc
            except BaseException:
                conn.close()
                raise
            if keep and not self._closed and len(idle) < self._max_idle:
                idle.append(conn)
            else:
                conn.close()
            return httpx.Response(
                status,
                headers=headers,
                content=content,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
            )

    async def _connect(
        self, origin: tuple[str, str, int], timeout: float | None, request: httpx.Request
    ) -> _Conn:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, limit=1 << 20
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from exc
        except OSError as exc:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {exc}", request=request
            ) from exc
        return _Conn(reader, writer)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()


async def _read_response(
    reader: asyncio.StreamReader, method: str, reused: bool
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes, bool]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if reused and not exc.partial:
            raise _Stale from exc
        raise
    except ConnectionResetError as exc:
        if reused:
            raise _Stale from exc
        raise
    lines = raw[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(code)
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    keep = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"malformed header line {line[:80]!r}")
        name = name.strip()
        value = value.strip()
        headers.append((name, value))
        lower = name.lower()
        if lower == b"content-length":
            length = int(value)
        elif lower == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif lower == b"connection":
            tokens = value.lower()
            if b"close" in tokens:
                keep = False
            elif b"keep-alive" in tokens:
                keep = True
    if method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        content = b""
    elif chunked:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                break
            parts.append((await reader.readexactly(size + 2))[:-2])
        content = b"".join(parts)
    elif length is not None:
        content = await reader.readexactly(length) if length else b""
    else:
        content = await reader.read()
        keep = False
    return status, reason, headers, content, keep
