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
from settlement.national.auth import NationalAuth
from settlement.national.handlers import Handlers
from settlement.national.service import NationalService
from settlement.persons.service import PersonService
from settlement.registry_client import RegistryClient
from settlement.settlements.receipt_links import ReceiptLinks
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
    national: NationalService
    catalogue: CatalogueService
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
        links = (
            ReceiptLinks(settings.receipt_secret, settings.receipt_ttl_s, settings.public_url or "")
            if settings.receipt_secret
            else None
        )
        cache = CatalogueCache(db, check_interval_s=settings.catalogue_check_s)
        supervision = SupervisionService(db, rules, tz, refresh_s=settings.supervision_refresh_s)
        settlements = SettlementService(db, eligibility, tz, cache, links, supervision)
        hospitals = HospitalAuth(db, ttl_s=settings.hospital_cache_ttl_s)
        admissions = AdmissionService(db, eligibility, settlements.check_admission)
        persons = PersonService(db, eligibility, tz)
        fee_details = FeeDetailService(db, cache, eligibility, tz)
        return cls(
            settings=settings,
            db=db,
            registry=registry,
            policies=policies,
            hospitals=hospitals,
            settlements=settlements,
            admissions=admissions,
            persons=persons,
            fee_details=fee_details,
            national=_national(
                settings, db, eligibility, hospitals, settlements, admissions, persons, fee_details
            ),
            catalogue=CatalogueService(db, cache),
            supervision=supervision,
        )


def _national(
    settings: Settings,
    db: Database,
    eligibility: EligibilityService,
    hospitals: HospitalAuth,
    settlements: SettlementService,
    admissions: AdmissionService,
    persons: PersonService,
    fee_details: FeeDetailService,
) -> NationalService:
    """The national interface over the same service objects (off without its secret)."""
    secret = settings.national_secret
    handlers = (
        Handlers(
            db=db,
            secret=secret,
            local_tz=settings.local_tz,
            eligibility=eligibility,
            settlements=settlements,
            admissions=admissions,
            persons=persons,
            fee_details=fee_details,
        )
        if secret
        else None
    )
    auth = NationalAuth(
        db,
        hospitals,
        signed_headers=settings.national_signed_headers,
        window_s=settings.national_signature_window_s,
    )
    return NationalService(db=db, local_tz=settings.local_tz, auth=auth, handlers=handlers)
