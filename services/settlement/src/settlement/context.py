"""What the request handlers share for the life of the process (built by the lifespan): the
settings, the database, the registry client, the policies and the service objects."""

from __future__ import annotations

from dataclasses import dataclass

from settlement.admissions.service import AdmissionService
from settlement.catalogue.cache import CatalogueCache
from settlement.catalogue.service import CatalogueService
from settlement.config import Settings
from settlement.database import Database
from settlement.eligibility import EligibilityService
from settlement.engine import PolicySet
from settlement.fee_details.service import FeeDetailService
from settlement.hospitals.service import HospitalAuth
from settlement.persons.service import PersonService
from settlement.registry_client import RegistryClient
from settlement.settlements.service import SettlementService


@dataclass
class AppContext:
    settings: Settings
    db: Database
    registry: RegistryClient
    policies: PolicySet
    hospitals: HospitalAuth
    settlements: SettlementService
    admissions: AdmissionService
    persons: PersonService
    fee_details: FeeDetailService
    catalogue: CatalogueService

    @classmethod
    def build(
        cls, settings: Settings, db: Database, registry: RegistryClient, policies: PolicySet
    ) -> AppContext:
        """Every service object, each given only what it uses."""
        eligibility = EligibilityService(registry, policies)
        tz = settings.local_tz
        cache = CatalogueCache(db, check_interval_s=settings.catalogue_check_s)
        settlements = SettlementService(db, eligibility, tz, cache)
        return cls(
            settings=settings,
            db=db,
            registry=registry,
            policies=policies,
            hospitals=HospitalAuth(db, ttl_s=settings.hospital_cache_ttl_s),
            settlements=settlements,
            admissions=AdmissionService(db, eligibility, settlements.check_admission),
            persons=PersonService(db, eligibility, tz),
            fee_details=FeeDetailService(db),
            catalogue=CatalogueService(db, cache),
        )
