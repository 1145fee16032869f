"""Who calls the national interface: a hospital, by its medaid API key.

Two ways, either is enough:

- ``Authorization: Bearer <API key>`` — as every medaid endpoint;
- the platform's header style, for HIS that sign every call::

      x-tif-paasid:    the hospital's code (fixmedins_code)
      x-tif-timestamp: Unix time in seconds, within ``SETTLEMENT_NATIONAL_SIGNATURE_WINDOW_S``
                       (default 300) of the service's clock
      x-tif-nonce:     1 to 64 printable characters of the caller's choice
      x-tif-signature: lower-case hex HMAC-SHA256 with
                       key     = SHA-256(API key), lower-case hex, as UTF-8 text
                       message = paasid + "\\n" + timestamp + "\\n" + nonce + "\\n"
                                 + SHA-256(request body bytes), lower-case hex

  The signature covers the body, so a captured header set cannot carry another request. The
  key is the hash of the API key, which is what medaid stores (it never keeps the key): so
  the signed style is as safe as the settlement database's confidentiality, the bearer style
  needs the key itself; set ``SETTLEMENT_NATIONAL_SIGNED_HEADERS=false`` to accept the bearer
  style only.

A missing, unknown or wrong key, a bad signature or a stale timestamp is an HTTP 401
(problem+json), not an envelope: nothing about the hospital is known to answer as.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

from settlement.database import Database
from settlement.hospitals import repository as hospitals
from settlement.hospitals.repository import HospitalRef
from settlement.hospitals.service import HospitalAuth
from shared.errors import Unauthorized
from shared.security import bearer_token

PAASID = "x-tif-paasid"
TIMESTAMP = "x-tif-timestamp"
NONCE = "x-tif-nonce"
SIGNATURE = "x-tif-signature"
_NONCE = re.compile(r"^[\x21-\x7e]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def signature(key_hash: str, paasid: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The ``x-tif-signature`` of a request (see the module's docstring)."""
    message = "\n".join((paasid, timestamp, nonce, hashlib.sha256(body).hexdigest()))
    return hmac.new(key_hash.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(
    api_key: str, paasid: str, body: bytes, *, nonce: str, now: float | None = None
) -> dict[str, str]:
    """The four signed headers for a request body, as a HIS computes them."""
    timestamp = str(int(time.time() if now is None else now))
    key_hash = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    return {
        PAASID: paasid,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: signature(key_hash, paasid, timestamp, nonce, body),
    }


class NationalAuth:
    """Authenticates a national call from its headers and body."""

    def __init__(
        self,
        db: Database,
        keys: HospitalAuth,
        *,
        signed_headers: bool,
        window_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.keys = keys
        self.signed_headers = signed_headers
        self.window_s = window_s
        self.clock = clock

    async def hospital(self, headers: Mapping[str, str], body: bytes) -> HospitalRef:
        """The calling hospital; ``Unauthorized`` (401) when neither way proves one."""
        token = bearer_token(headers.get("authorization"))
        if token is not None:
            hospital = await self.keys.by_api_key(token)
            if hospital is None:
                raise Unauthorized("The bearer token is not a valid hospital API key.")
            return hospital
        if self.signed_headers and headers.get(SIGNATURE) is not None:
            return await self._signed(headers, body)
        raise Unauthorized(
            "Send the hospital's API key: Authorization: Bearer <key>, or the signed "
            "x-tif-paasid / x-tif-timestamp / x-tif-nonce / x-tif-signature headers."
        )

    async def _signed(self, headers: Mapping[str, str], body: bytes) -> HospitalRef:
        paasid = (headers.get(PAASID) or "").strip()
        timestamp = (headers.get(TIMESTAMP) or "").strip()
        nonce = (headers.get(NONCE) or "").strip()
        given = (headers.get(SIGNATURE) or "").strip()
        if not paasid or len(paasid) > 32 or not _NONCE.match(nonce) or not _HEX64.match(given):
            raise Unauthorized("The x-tif-* headers are incomplete or malformed.")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise Unauthorized("x-tif-timestamp must be Unix time in seconds.")
        if abs(self.clock() - int(timestamp)) > self.window_s:
            raise Unauthorized(
                f"x-tif-timestamp is more than {self.window_s} s from the service's clock."
            )
        async with self.db.read() as conn:
            found = await hospitals.by_code_with_key_hash(conn, paasid)
        if found is None:
            raise Unauthorized("The signature does not match.")
        hospital, key_hash = found
        expected = signature(key_hash, paasid, timestamp, nonce, body)
        if not hmac.compare_digest(expected, given.lower()):
            raise Unauthorized("The signature does not match.")
        return hospital
