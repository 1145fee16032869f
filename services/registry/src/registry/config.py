"""Registry settings, read from ``REGISTRY_*`` environment variables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, csv_list

ADMIN_IDENTITY = "admin"
_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class InsecureSettings(RuntimeError):
    """The service refuses to start: a token is missing or is a published demo token."""


@dataclass(frozen=True)
class ReadToken:
    """A token that may read; ``label`` names its holder in logs (``settlement``, ``read-2``)."""

    label: str
    token: str


class Settings(ServiceSettings):
    """``REGISTRY_DATABASE_URL``, ``REGISTRY_ADMIN_TOKEN``, ``REGISTRY_READ_TOKENS``,
    ``REGISTRY_ENV`` (dev | test | prod), ``REGISTRY_MAX_BODY_BYTES``,
    ``REGISTRY_MAX_IMPORT_BYTES``, ``REGISTRY_TIMEZONE``, ``REGISTRY_LOG_LEVEL``.

    ``REGISTRY_READ_TOKENS`` is comma-separated; each entry is a token or ``label:token``
    (label: letters, digits, ``_.-``). Unlabelled tokens are called ``read-1``, ``read-2``, …
    """

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore", env_file=None)

    database_url: str = "sqlite:///./var/registry.db"
    admin_token: str | None = None
    read_tokens: str = ""
    max_body_bytes: int = 1024 * 1024
    max_import_bytes: int = 64 * 1024 * 1024
    timezone: str = "Asia/Shanghai"

    def parsed_read_tokens(self) -> list[ReadToken]:
        tokens = []
        for position, entry in enumerate(csv_list(self.read_tokens), start=1):
            label, sep, token = entry.partition(":")
            if sep and _LABEL.match(label) and token.strip():
                tokens.append(ReadToken(label=label, token=token.strip()))
            else:
                tokens.append(ReadToken(label=f"read-{position}", token=entry))
        return tokens

    def check_tokens(self) -> None:
        """Outside ``REGISTRY_ENV=dev``, refuse missing, short or published demo tokens."""
        if self.env == "dev":
            return
        problems = []
        if self.insecure_token(self.admin_token):
            problems.append(
                "REGISTRY_ADMIN_TOKEN is missing, shorter than 16 characters or a demo token"
            )
        read = self.parsed_read_tokens()
        if not read:
            problems.append("REGISTRY_READ_TOKENS is empty")
        for item in read:
            if self.insecure_token(item.token):
                problems.append(
                    f"read token {item.label!r} is shorter than 16 characters or a demo token"
                )
            elif self.admin_token and item.token == self.admin_token:
                problems.append(f"read token {item.label!r} equals the admin token")
        if problems:
            raise InsecureSettings(
                f"refusing to start with REGISTRY_ENV={self.env}: " + "; ".join(problems)
            )

    def zone(self) -> tzinfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            if self.timezone == "Asia/Shanghai":
                # An image without a time-zone database: China keeps UTC+8 all year.
                return timezone(timedelta(hours=8))
            raise ValueError(f"REGISTRY_TIMEZONE: unknown time zone {self.timezone!r}") from None

    def today(self) -> date:
        """Today's date in the registry's time zone (the default of ``?on=``)."""
        return datetime.now(self.zone()).date()
