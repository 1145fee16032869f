"""Client of the registry service (eligibility on a date)."""

from settlement.registry_client.client import (
    Eligibility,
    RegistryClient,
    RegistryUnavailable,
    default_transport,
)

__all__ = ["Eligibility", "RegistryClient", "RegistryUnavailable", "default_transport"]
