"""Alembic environment of the settlement service (its own history)."""

from settlement.models import metadata
from shared.db import run_async_migrations

run_async_migrations(metadata)
