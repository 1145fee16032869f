"""What the request handlers share for the life of the process (built by the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

from settlement.config import Settings
from settlement.database import Database
from settlement.engine import PolicySet
from settlement.hospitals.service import HospitalAuth
from settlement.registry_client import RegistryClient
from settlement.settlements.store import Store


@dataclass
class AppContext:
    settings: Settings
    db: Database
    store: Store
    """Where settle and revoke transactions are written (asyncpg on PostgreSQL)."""
    registry: RegistryClient
    policies: PolicySet
    hospitals: HospitalAuth
