"""Secrets: API keys and tokens are compared in constant time and stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a high-entropy secret (API keys are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def new_api_key(prefix: str = "mk") -> str:
    """A fresh random key, e.g. ``mk_3q…``; shown once, then only its hash is kept."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
