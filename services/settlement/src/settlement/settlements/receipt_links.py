"""A bill's ``receipt_url``: a link a browser opens, without a Bearer header, to print that
bill's receipt (一站式结算单) until the link expires.

The link is ``{public_url}/v1/receipts/{setl_id}?token={token}``. The token is
:func:`shared.security.sign_token` of the purpose ``medaid-receipt-v1`` and the bill's
``setl_id`` under ``SETTLEMENT_RECEIPT_SECRET``, expiring ``SETTLEMENT_RECEIPT_TTL_S`` seconds
(24 h by default) after the answer that carried it: ``<expiry, Unix seconds>.<HMAC-SHA256,
base64url>``. It opens that bill's receipt and nothing else: another bill's receipt, any API
(it is not a Bearer credential) and the administrator's page all refuse it. Each answer carries
a fresh link; a link given out earlier keeps working until its own expiry. Changing the secret
ends every link given out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from shared.security import sign_token, verify_token

RECEIPT_PURPOSE = "medaid-receipt-v1"
RECEIPT_LINK_PATH = "/v1/receipts/{setl_id}"
"""The route the link names (``receipts/router.py``), from the service's root."""


@dataclass(frozen=True, slots=True)
class ReceiptLinks:
    """Makes and checks receipt links. ``secret``: the HMAC key; ``ttl_s``: seconds a link
    lives; ``base_url``: the service's public address without a trailing slash (``""``: links
    are paths from the root); ``clock``: Unix seconds now."""

    secret: str
    ttl_s: int
    base_url: str = ""
    clock: Callable[[], float] = field(default=time.time)

    def token(self, setl_id: str, now: float | None = None) -> str:
        """The token of the bill's link made at ``now`` (default: the clock)."""
        expires = int(self.clock() if now is None else now) + self.ttl_s
        return sign_token(self.secret, RECEIPT_PURPOSE, setl_id, expires)

    def url(self, setl_id: str) -> str:
        """The bill's ``receipt_url``, valid for ``ttl_s`` seconds from now."""
        path = RECEIPT_LINK_PATH.format(setl_id=quote(setl_id, safe=""))
        return f"{self.base_url}{path}?token={self.token(setl_id)}"

    def opens(self, setl_id: str, token: str | None) -> bool:
        """True when ``token`` is this bill's, unaltered and not expired."""
        return verify_token(self.secret, RECEIPT_PURPOSE, setl_id, token, self.clock())
