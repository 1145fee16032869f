"""Secrets: API keys and tokens are compared in constant time and stored only as hashes."""

from __future__ import annotations

import base64
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


_TOKEN_MAX_LENGTH = 64


def _token_signature(secret: str, purpose: str, subject: str, expires: int) -> str:
    message = f"{purpose}\n{subject}\n{expires}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign_token(secret: str, purpose: str, subject: str, expires: int) -> str:
    """A token that proves the holder was given access to ``subject`` (e.g. one bill's
    ``setl_id``) for ``purpose`` (e.g. ``"receipt"``) until ``expires`` (Unix seconds):
    ``<expires>.<signature>``, the signature the HMAC-SHA256 under ``secret`` of the purpose,
    the subject and the expiry, base64url without padding (43 characters). URL-safe as is."""
    return f"{expires}.{_token_signature(secret, purpose, subject, expires)}"


def verify_token(secret: str, purpose: str, subject: str, token: str | None, now: float) -> bool:
    """True when ``token`` was made by :func:`sign_token` with this secret, purpose and subject
    and has not expired at ``now`` (Unix seconds). Anything else — missing, malformed,
    altered, expired, made for another subject or purpose — is False. The signature is
    compared in constant time."""
    if not token or len(token) > _TOKEN_MAX_LENGTH:
        return False
    expires_text, dot, signature = token.partition(".")
    if not dot or not expires_text.isascii() or not expires_text.isdigit():
        return False
    expires = int(expires_text)
    if str(expires) != expires_text or expires <= now:  # one spelling per expiry
        return False
    return secrets_equal(signature, _token_signature(secret, purpose, subject, expires))
