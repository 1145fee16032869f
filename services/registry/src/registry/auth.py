"""Who is calling: bearer tokens resolved to an identity.

The admin token (identity ``admin``) may read and write; read tokens (identity: their label,
e.g. ``settlement``) may only read. The configured tokens are kept only as SHA-256 digests;
a presented token is hashed and looked up, so the work per request is the same whichever
token (if any) it matches, and a comparison of digests tells nothing about the token.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.config import ADMIN_IDENTITY, Settings
from shared.security import hash_secret


@dataclass(frozen=True)
class Caller:
    identity: str
    can_write: bool


@dataclass(frozen=True)
class Actor:
    """Who makes a change and in which request; recorded in the change log."""

    identity: str
    request_id: str | None = None


class TokenBook:
    def __init__(self, settings: Settings) -> None:
        callers: dict[str, Caller] = {}
        # Read tokens first, so a read token equal to the admin token (refused outside dev)
        # still resolves to the admin, as it always has.
        for item in settings.parsed_read_tokens():
            callers.setdefault(hash_secret(item.token), Caller(item.label, can_write=False))
        if settings.admin_token:
            callers[hash_secret(settings.admin_token)] = Caller(ADMIN_IDENTITY, can_write=True)
        self._callers = callers

    def identify(self, token: str) -> Caller | None:
        """The caller a token belongs to, or None: one hash and one lookup of the digest."""
        return self._callers.get(hash_secret(token))
