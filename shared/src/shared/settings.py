"""Settings base shared by the services (pydantic-settings; each service sets its own prefix)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_TOKEN_PREFIX = "dev-"
"""Tokens starting with this are the published demo tokens; refused outside ``ENV=dev``."""


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set ``env_prefix`` (``REGISTRY_``, ``SETTLEMENT_``)."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    env: Literal["dev", "test", "prod"] = "prod"
    database_url: str
    max_body_bytes: int = 8 * 1024 * 1024
    log_level: str = "INFO"

    def insecure_token(self, token: str | None) -> bool:
        """True when a token is missing, too short or one of the published demo tokens."""
        return not token or len(token) < 16 or token.startswith(DEV_TOKEN_PREFIX)


def csv_list(value: str | None) -> list[str]:
    """Split a comma-separated setting, dropping blanks."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
