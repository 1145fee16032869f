"""Settings of the settlement service, from ``SETTLEMENT_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEV_ADMIN_TOKEN = "dev-settlement-admin-token"
DEV_REGISTRY_TOKEN = "dev-registry-read-token"


class Settings(ServiceSettings):
    """``SETTLEMENT_DATABASE_URL``, ``SETTLEMENT_ADMIN_TOKEN``, ``SETTLEMENT_REGISTRY_URL``,
    ``SETTLEMENT_REGISTRY_TOKEN``, ``SETTLEMENT_POLICY_DIR``, ``SETTLEMENT_ELIGIBILITY_TTL_S``,
    ``SETTLEMENT_ENV`` (dev | test | prod) and the tuning knobs below."""

    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore", env_file=None)

    database_url: str = "sqlite:///./var/settlement.db"
    admin_token: str | None = None
    registry_url: str = "http://127.0.0.1:8001"
    registry_token: str | None = None
    policy_dir: Path | None = None
    """Folder of policy files (``*.toml``); default: the sample policies shipped with medaid."""
    supervision_rules: Path | None = None
    """The supervision rules file (TOML); default: the sample shipped beside the policies
    (``settlement/policies/supervision/rules.toml``)."""
    supervision_refresh_s: float = Field(default=3600.0, ge=0)
    """How often the outlier rules' medians are recomputed in the background (0: never)."""
    eligibility_ttl_s: float = Field(default=60.0, ge=0)
    registry_timeout_s: float = Field(default=5.0, gt=0)
    registry_retry_after_s: int = Field(default=5, ge=1)
    utc_offset_hours: int = Field(default=8, ge=-12, le=14)
    """Offset of the hospitals' local time (China: +8); the settlement date of a bill and the
    ``date`` filter of the bill list are local dates."""
    db_pool_size: int = Field(default=10, ge=1, le=200)
    hospital_cache_ttl_s: float = Field(default=30.0, ge=0)
    max_reconciliation_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Body limit of ``POST /v1/reconciliations/detail`` (a 100,000-bill day is ~18 MB of
    JSON); every other request keeps ``max_body_bytes``."""

    @model_validator(mode="after")
    def _tokens(self) -> Settings:
        if self.env == "dev":
            if self.admin_token is None:
                self.admin_token = DEV_ADMIN_TOKEN
            if self.registry_token is None:
                self.registry_token = DEV_REGISTRY_TOKEN
            return self
        for name in ("admin_token", "registry_token"):
            if self.insecure_token(getattr(self, name)):
                raise ValueError(
                    f"SETTLEMENT_{name.upper()} is missing, shorter than 16 characters or a "
                    f"published demo token; set a secret value (or SETTLEMENT_ENV=dev)"
                )
        return self

    @property
    def local_tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))
