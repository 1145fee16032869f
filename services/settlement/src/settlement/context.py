"""What the request handlers share for the life of the process (built by the lifespan): the
settings, the database, the registry client, the policies and the service objects."""

from __future__ import annotations

from dataclasses import dataclass

from settlement.admissions.service import AdmissionService
from settlement.config import Settings
from settlement.database import Database
from settlement.eligibility import EligibilityService
from settlement.engine import PolicySet
from settlement.fee_details.service import FeeDetailService
from settlement.hospitals.service import HospitalAuth
from settlement.persons.service import PersonService
from settlement.registry_client import RegistryClient
from settlement.settlements.service import SettlementService
from settlement.supervision.rules import RuleSet
from settlement.supervision.service import SupervisionService


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
    supervision: SupervisionService

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        registry: RegistryClient,
        policies: PolicySet,
        rules: RuleSet,
    ) -> AppContext:
        """Every service object, each given only what it uses."""
        eligibility = EligibilityService(registry, policies)
        tz = settings.local_tz
        supervision = SupervisionService(db, rules, tz, refresh_s=settings.supervision_refresh_s)
        settlements = SettlementService(db, eligibility, tz, supervision)
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
            supervision=supervision,
        )
