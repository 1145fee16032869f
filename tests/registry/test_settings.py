"""Settings and start-up: tokens refused outside dev, read-token labels, time zone."""

from __future__ import annotations

import pytest

from registry.app import create_app
from registry.auth import Caller
from registry.config import InsecureSettings, Settings

GOOD_ADMIN = "a" * 32
GOOD_READ = "r" * 32


def make(**values: object) -> Settings:
    base: dict[str, object] = {
        "env": "prod",
        "database_url": "sqlite:///:memory:",
        "admin_token": GOOD_ADMIN,
        "read_tokens": GOOD_READ,
    }
    base.update(values)
    return Settings.model_validate(base)


@pytest.mark.parametrize(
    "values",
    [
        {"admin_token": None},
        {"admin_token": "short"},
        {"admin_token": "dev-registry-admin-token"},
        {"read_tokens": ""},
        {"read_tokens": f"{GOOD_READ},dev-registry-read-token"},
        {"read_tokens": f"settlement:{GOOD_ADMIN}"},
        {"env": "test", "read_tokens": "tiny"},
    ],
    ids=["no-admin", "short-admin", "demo-admin", "no-read", "demo-read", "read-is-admin", "test"],
)
def test_refuses_to_start_with_insecure_tokens(values) -> None:
    with pytest.raises(InsecureSettings):
        create_app(make(**values))


def test_dev_accepts_the_demo_tokens() -> None:
    settings = make(
        env="dev",
        admin_token="dev-registry-admin-token",
        read_tokens="settlement:dev-registry-read-token",
    )
    tokens = create_app(settings).state.tokens
    assert tokens.identify("dev-registry-admin-token") == Caller("admin", can_write=True)
    assert tokens.identify("dev-registry-read-token") == Caller("settlement", can_write=False)
    assert tokens.identify("dev-registry-other-token") is None


def test_read_token_labels() -> None:
    settings = make(read_tokens=f"settlement:{GOOD_READ}, {'b' * 20} ,reports:{'c' * 20},")
    assert [(t.label, t.token) for t in settings.parsed_read_tokens()] == [
        ("settlement", GOOD_READ),
        ("read-2", "b" * 20),
        ("reports", "c" * 20),
    ]


def test_settings_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("REGISTRY_ADMIN_TOKEN", GOOD_ADMIN)
    monkeypatch.setenv("REGISTRY_READ_TOKENS", f"settlement:{GOOD_READ}")
    monkeypatch.setenv("REGISTRY_ENV", "test")
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///./var/registry.db"
    assert settings.admin_token == GOOD_ADMIN
    assert settings.env == "test"


def test_unknown_time_zone_fails_at_start() -> None:
    with pytest.raises(ValueError, match="REGISTRY_TIMEZONE"):
        create_app(make(timezone="Mars/Olympus"))
