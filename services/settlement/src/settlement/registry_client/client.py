"""Client of the registry service: a person's poverty / assistance categories on a date.

One small class around a shared ``httpx.AsyncClient`` (built in the app's lifespan over
:func:`default_transport`, httpx's own connection pool): timeouts, one retry on connection
errors, answers (including "not registered") cached per person for a TTL and reused for any
date inside the span the registry says they hold for, answers larger than ``max_answer_bytes``
refused, and every transport failure or 5xx mapped to :class:`RegistryUnavailable` (503 with
Retry-After).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import ServiceUnavailable
from shared.idnumber import mask_id_number
from shared.observability import record_registry_call

log = logging.getLogger("settlement.registry")

MAX_ANSWER_BYTES = 64 * 1024
"""Largest registry answer the client reads (an eligibility answer is under 1 KiB)."""

REGISTRY_LIMITS = httpx.Limits(
    max_connections=32, max_keepalive_connections=32, keepalive_expiry=4.0
)
"""The registry connection pool of one settlement process: up to 32 requests in flight (more
than the settles a process has in flight: its store pool holds 20 connections by default; any
beyond wait for a free connection, within the request's timeout), every connection kept for
reuse while idle for under 4 s (below uvicorn's 5 s keep-alive, so the registry rarely closes
one the client is about to reuse). httpcore's pool does work per request that grows with its
number of connections, so a larger pool costs CPU on every call."""


def default_transport(
    *, limits: httpx.Limits = REGISTRY_LIMITS, retries: int = 1
) -> httpx.AsyncHTTPTransport:
    """httpx's HTTP/1.1 transport with the registry's pool limits; ``retries`` is how many
    times a failed connection attempt (refused, unreachable, timed out) is made again."""
    return httpx.AsyncHTTPTransport(limits=limits, retries=retries)


class _AnswerTooLarge(Exception):
    """The registry's answer is larger than the client reads."""


class RegistryUnavailable(ServiceUnavailable):
    """The registry could not answer; nothing was written."""

    title = "Registry Unavailable"


class Eligibility(BaseModel):
    """The registry's answer for a registered person (categories active on ``on``, the same
    on every date from ``valid_from`` to ``valid_to``, inclusive, None being unbounded)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id_number_masked: str
    name: str
    household_code: str | None = None
    region_code: str | None = None
    categories: tuple[str, ...] = ()
    registered: bool = True
    on: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    """One person's answer and the dates it holds for (inclusive; None is unbounded)."""

    value: Eligibility | None
    valid_from: date | None
    valid_to: date | None

    def covers(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


def _entry(on: date, value: Eligibility | None) -> _Entry:
    """The answer with its span: "not registered" holds on every date; an answer without
    ``valid_from`` / ``valid_to`` (a registry that does not send them) only on ``on``."""
    if value is None:
        return _Entry(None, None, None)
    fields = value.model_fields_set
    if "valid_from" not in fields or "valid_to" not in fields:
        return _Entry(value, on, on)
    return _Entry(value, value.valid_from, value.valid_to)


class RegistryClient:
    """``eligibility(id_number, on)`` → :class:`Eligibility`, or ``None`` when the registry does
    not know the person (an ordinary insured person, aid class ``none``).

    The cache holds one entry per person: the latest answer with the span of dates it holds
    for (the registry's ``valid_from`` / ``valid_to``), which answers any date inside the span
    until it is ``ttl_s`` seconds old; "not registered" holds for every date."""

    _RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: str | None,
        ttl_s: float = 60.0,
        timeout_s: float = 5.0,
        retry_after_s: int = 5,
        max_entries: int = 10_000,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._ttl_s = ttl_s
        # Built once: every call reuses the timeouts and the constant headers.
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)).as_dict()
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._retry_after_s = retry_after_s
        self._max_entries = max_entries
        self._max_answer_bytes = max_answer_bytes
        self._clock = clock
        # Per person: (expires at, entry).
        self._cache: OrderedDict[str, tuple[float, _Entry]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}

    async def eligibility(
        self, id_number: str, on: date, *, request_id: str | None = None
    ) -> Eligibility | None:
        while True:
            cached = self._cache.get(id_number)
            if cached is not None:
                expires, entry = cached
                if self._clock() >= expires:
                    del self._cache[id_number]
                elif entry.covers(on):
                    self._cache.move_to_end(id_number)  # least recently used leaves first
                    return entry.value
            # Concurrent asks for the same person share one request; its answer serves every
            # waiter whose date lies inside its span, the others ask again.
            pending = self._inflight.get(id_number)
            if pending is None:
                break
            try:
                shared = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                continue  # the request waited for was cancelled with its caller: ask again
            if shared.covers(on):
                return shared.value
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._inflight[id_number] = future
        try:
            entry = _entry(on, await self._fetch(id_number, on, request_id))
            self._remember(id_number, entry)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # waiters get it through their own await
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(entry)
            return entry.value
        finally:
            if self._inflight.get(id_number) is future:
                del self._inflight[id_number]

    def _remember(self, id_number: str, entry: _Entry) -> None:
        if self._ttl_s <= 0:
            return
        self._cache[id_number] = (self._clock() + self._ttl_s, entry)
        self._cache.move_to_end(id_number)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def _fetch(self, id_number: str, on: date, request_id: str | None) -> Eligibility | None:
        headers = self._headers
        if request_id:
            headers = {**headers, "X-Request-ID": request_id}
        # An ID number is 17 digits and a digit or X, a date is YYYY-MM-DD: nothing to escape.
        request = httpx.Request(
            "GET",
            f"{self._base_url}/v1/persons/{id_number}/eligibility?on={on.isoformat()}",
            headers=headers,
            extensions={"timeout": self._timeout},
        )
        masked = mask_id_number(id_number)
        status: int | None = None
        body = b""
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                status, body = await self._get(request)
                break
            except self._RETRYABLE as exc:
                record_registry_call("unavailable", time.perf_counter() - started)
                # The transport has already made a timed-out connection attempt twice.
                if attempt == 2 or isinstance(exc, httpx.ConnectTimeout):
                    raise self._unavailable(f"cannot connect ({type(exc).__name__})") from exc
                log.warning("registry connection failed for %s, retrying once: %r", masked, exc)
            except httpx.TimeoutException as exc:
                record_registry_call("timeout", time.perf_counter() - started)
                raise self._unavailable("timed out") from exc
            except httpx.HTTPError as exc:
                record_registry_call("error", time.perf_counter() - started)
                raise self._unavailable(f"request failed ({type(exc).__name__})") from exc
            except _AnswerTooLarge as exc:
                record_registry_call("error", time.perf_counter() - started)
                log.error("registry answer for %s is over %d bytes", masked, self._max_answer_bytes)
                raise self._unavailable(
                    f"sent an answer larger than {self._max_answer_bytes} bytes"
                ) from exc
        assert status is not None
        elapsed = time.perf_counter() - started
        if status == 404:
            record_registry_call("not_found", elapsed)
            return None
        if status != 200:
            record_registry_call("unavailable" if status >= 500 else "error", elapsed)
            log.error("registry answered %s for %s", status, masked)
            raise self._unavailable(f"answered HTTP {status}")
        record_registry_call("ok", elapsed)
        try:
            return Eligibility.model_validate_json(body)
        except ValidationError as exc:
            raise self._unavailable("sent an answer that could not be read") from exc

    async def _get(self, request: httpx.Request) -> tuple[int, bytes]:
        """The status and body of the answer to ``request``; an answer that says or turns out
        to be larger than ``max_answer_bytes`` raises :class:`_AnswerTooLarge` as soon as that
        is known, and the connection is dropped instead of being read to the end."""
        limit = self._max_answer_bytes
        response = await self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _AnswerTooLarge
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise _AnswerTooLarge
            return response.status_code, body
        finally:
            await response.aclose()

    async def ping(self) -> None:
        """Readiness: the registry answers its own readiness probe; raises otherwise."""
        request = self._http.build_request(
            "GET", f"{self._base_url}/readyz", timeout=httpx.Timeout(2.0, connect=1.0)
        )
        try:
            status, _ = await self._get(request)
        except _AnswerTooLarge:
            raise self._unavailable("is not ready (answer too large)") from None
        if status != 200:
            raise self._unavailable(f"is not ready (HTTP {status})")

    def _unavailable(self, why: str) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"The registry service {why}; eligibility could not be checked and nothing was "
            f"written. Retry later.",
            retry_after=self._retry_after_s,
        )
