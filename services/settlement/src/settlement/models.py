"""Every table of the settlement service, so ``metadata`` is complete (Alembic, tests)."""

from settlement.accumulators.models import Accumulator
from settlement.admissions.models import Admission
from settlement.audit.models import AuditRecord
from settlement.bills.fee_detail_models import FeeDetailRow
from settlement.bills.models import BillFundRow, BillRow
from settlement.catalogue.models import (
    CatalogueEntry,
    CatalogueImport,
    CatalogueMapping,
    CatalogueVersion,
)
from settlement.database import metadata
from settlement.grants.models import Grant, GrantUse
from settlement.hospitals.models import Hospital
from settlement.national.models import NationalMessage, NationalPerson, NationalVisit
from settlement.reconciliation.models import Reconciliation, ReconciliationRow
from settlement.regions.models import Region
from settlement.reports.models import bill_funds_date_fund, bills_status_date

__all__ = [
    "Accumulator",
    "Admission",
    "AuditRecord",
    "BillFundRow",
    "BillRow",
    "CatalogueEntry",
    "CatalogueImport",
    "CatalogueMapping",
    "CatalogueVersion",
    "FeeDetailRow",
    "Grant",
    "GrantUse",
    "Hospital",
    "NationalMessage",
    "NationalPerson",
    "NationalVisit",
    "Reconciliation",
    "ReconciliationRow",
    "Region",
    "bill_funds_date_fund",
    "bills_status_date",
    "metadata",
]
