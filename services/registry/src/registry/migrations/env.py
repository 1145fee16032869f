"""Alembic environment of the registry (run by ``medaid-registry migrate``)."""

from registry.models import metadata
from shared.db import run_async_migrations

run_async_migrations(metadata)
