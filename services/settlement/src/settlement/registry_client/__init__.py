"""Client of the registry service (eligibility on a date)."""

from settlement.registry_client.client import Eligibility, RegistryClient, RegistryUnavailable

__all__ = ["Eligibility", "RegistryClient", "RegistryUnavailable"]
