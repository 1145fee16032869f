"""Who is calling: bearer tokens resolved to an identity, compared in constant time.

The admin token (identity ``admin``) may read and write; read tokens (identity: their label,
e.g. ``settlement``) may only read.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.config import ADMIN_IDENTITY, Settings
from shared.security import secrets_equal


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
        self._admin = settings.admin_token or None
        self._read = [(item.label, item.token) for item in settings.parsed_read_tokens()]

    def identify(self, token: str) -> Caller | None:
        """The caller a token belongs to, or None. Every known token is compared, each in
        constant time, so the answer's timing says nothing about which one matched."""
        found: Caller | None = None
        if self._admin is not None and secrets_equal(token, self._admin):
            found = Caller(ADMIN_IDENTITY, can_write=True)
        for label, candidate in self._read:
            if secrets_equal(token, candidate) and found is None:
                found = Caller(label, can_write=False)
        return found
