"""Signed, expiring tokens (``shared.security.sign_token`` / ``verify_token``): valid for their
secret, purpose and subject until they expire, refused after any change."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from shared.security import sign_token, verify_token

SECRET = "a-server-secret-0123456789abcdef"
NOW = 1_800_000_000


def test_a_token_is_its_expiry_and_a_base64url_signature() -> None:
    token = sign_token(SECRET, "receipt", "S1", NOW + 60)
    assert re.fullmatch(rf"{NOW + 60}\.[A-Za-z0-9_-]{{43}}", token)
    assert verify_token(SECRET, "receipt", "S1", token, NOW)
    # Deterministic: the same inputs, the same token.
    assert token == sign_token(SECRET, "receipt", "S1", NOW + 60)


def test_a_token_is_valid_until_the_second_it_expires() -> None:
    token = sign_token(SECRET, "receipt", "S1", NOW + 60)
    assert verify_token(SECRET, "receipt", "S1", token, NOW + 59.999)
    assert not verify_token(SECRET, "receipt", "S1", token, NOW + 60)
    assert not verify_token(SECRET, "receipt", "S1", token, NOW + 3600)


def test_a_token_is_bound_to_its_secret_purpose_and_subject() -> None:
    token = sign_token(SECRET, "receipt", "S1", NOW + 60)
    assert not verify_token("another-secret-0123456789abcdef", "receipt", "S1", token, NOW)
    assert not verify_token(SECRET, "session", "S1", token, NOW)
    assert not verify_token(SECRET, "receipt", "S2", token, NOW)
    assert not verify_token(SECRET, "receipt", "S1", token.upper(), NOW)


def test_malformed_tokens_are_refused() -> None:
    signature = sign_token(SECRET, "receipt", "S1", NOW + 60).split(".", 1)[1]
    for token in (
        None,
        "",
        ".",
        signature,
        f"{NOW + 60}",
        f"{NOW + 60}.",
        f"0{NOW + 60}.{signature}",  # another spelling of the expiry
        f"+{NOW + 60}.{signature}",
        f"{NOW + 60}.{signature}=",
        f"١٢٣.{signature}",  # non-ASCII digits
        f"{NOW + 60}.{signature}{'A' * 100}",
    ):
        assert not verify_token(SECRET, "receipt", "S1", token, NOW), token


subjects = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@given(
    secret=st.text(min_size=16, max_size=64),
    subject=subjects,
    lifetime=st.integers(min_value=1, max_value=10**8),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_."
    ),
)
def test_any_change_to_a_token_is_refused(
    secret: str, subject: str, lifetime: int, position: int, replacement: str
) -> None:
    token = sign_token(secret, "receipt", subject, NOW + lifetime)
    assert verify_token(secret, "receipt", subject, token, NOW)
    index = position % len(token)
    altered = token[:index] + replacement + token[index + 1 :]
    if altered != token:
        assert not verify_token(secret, "receipt", subject, altered, NOW)
    assert not verify_token(secret, "receipt", subject + "x", token, NOW)
