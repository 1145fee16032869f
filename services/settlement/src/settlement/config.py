"""Settings of the settlement service, from ``SETTLEMENT_*`` environment variables."""

from __future__ import annotations

import os
from datetime import timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEV_ADMIN_TOKEN = "dev-settlement-admin-token"
DEV_REGISTRY_TOKEN = "dev-registry-read-token"
DEV_RECEIPT_SECRET = "dev-settlement-receipt-secret"
DEV_NATIONAL_SECRET = "dev-national-interface-secret"


class Settings(ServiceSettings):
    """``SETTLEMENT_DATABASE_URL``, ``SETTLEMENT_ADMIN_TOKEN``, ``SETTLEMENT_REGISTRY_URL``,
    ``SETTLEMENT_REGISTRY_TOKEN``, ``SETTLEMENT_POLICY_DIR``, ``SETTLEMENT_ELIGIBILITY_TTL_S``,
    ``SETTLEMENT_RECEIPT_SECRET``, ``SETTLEMENT_NATIONAL_SECRET``, ``SETTLEMENT_ENV`` (dev |
    test | prod) and the tuning knobs
    below."""

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
    catalogue_check_s: float = Field(default=1.0, ge=0)
    """How often (seconds) a process asks whether another one imported a catalogue or
    mapping: the bound on how stale its in-memory catalogue can be."""
    max_catalogue_bytes: int = Field(default=128 * 1024 * 1024, ge=1024)
    """Body limit of the catalogue and mapping imports (the national catalogue's 200,000
    rows are about 25 MB)."""
    max_reconciliation_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    """Body limit of ``POST /v1/reconciliations/detail`` (a 100,000-bill day is ~18 MB of
    JSON); every other request keeps ``max_body_bytes``."""
    simulation_processes: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 8), ge=1)
    """Worker processes the policy what-if re-runs a period's bills in (1: in the service's
    own process, off the event loop); default: the machine's cores, at most 8."""
    receipt_secret: str | None = None
    """Key of the HMAC-SHA256 that signs a bill's ``receipt_url`` (at least 16 characters,
    better 32 random bytes; required outside ``ENV=dev``). Changing it ends every link given
    out so far."""
    receipt_ttl_s: int = Field(default=24 * 3600, ge=60, le=31 * 24 * 3600)
    """How long a ``receipt_url`` opens the receipt, in seconds from the answer that carried
    it (default 24 h; 1 minute to 31 days)."""
    public_url: str | None = Field(default=None, max_length=512)
    """The service's address as browsers reach it (``https://medaid.example.org``, with a path
    prefix if a proxy adds one): ``receipt_url`` is absolute under it. Unset, ``receipt_url``
    is a path from the service's root (``/v1/receipts/…``)."""

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        url = urlsplit(value.strip())
        if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
            raise ValueError(
                "SETTLEMENT_PUBLIC_URL must be an http(s) URL without query or fragment"
            )
        return value.strip().rstrip("/")

    national_secret: str | None = None
    """Key of the national interface's person pseudonym (``psn_no`` = HMAC-SHA256 of the ID
    number under it). Unset: the national interface answers every call with ``infcode`` -1
    naming this setting. Keep it for the life of the deployment: a new one changes every
    ``psn_no``."""
    national_signed_headers: bool = True
    """Accept the platform's signed headers (``x-tif-paasid`` / ``x-tif-signature``) on the
    national interface besides ``Authorization: Bearer``."""
    national_signature_window_s: int = Field(default=300, ge=10, le=3600)
    """How far ``x-tif-timestamp`` may be from the server's clock."""

    @model_validator(mode="after")
    def _tokens(self) -> Settings:
        if self.national_secret is not None and not self.national_secret.strip():
            self.national_secret = None  # an empty variable: unset
        if self.env == "dev":
            if self.admin_token is None:
                self.admin_token = DEV_ADMIN_TOKEN
            if self.registry_token is None:
                self.registry_token = DEV_REGISTRY_TOKEN
            if self.receipt_secret is None:
                self.receipt_secret = DEV_RECEIPT_SECRET
            if self.national_secret is None:
                self.national_secret = DEV_NATIONAL_SECRET
            return self
        if self.national_secret is not None and self.insecure_token(self.national_secret):
            raise ValueError(
                "SETTLEMENT_NATIONAL_SECRET is shorter than 16 characters or a published demo "
                "value; set a secret value or leave it unset (national interface off)"
            )
        for name in ("admin_token", "registry_token", "receipt_secret"):
            if self.insecure_token(getattr(self, name)):
                raise ValueError(
                    f"SETTLEMENT_{name.upper()} is missing, shorter than 16 characters or a "
                    f"published demo token; set a secret value (or SETTLEMENT_ENV=dev)"
                )
        return self

    @property
    def local_tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))
