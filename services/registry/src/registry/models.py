"""All registry tables, imported in one place for Alembic and the tests."""

from __future__ import annotations

from registry.changelog.models import ChangeLogEntry
from registry.database import RegistryLock, metadata, table_of
from registry.households.models import Household
from registry.imports.models import ImportRecord
from registry.persons.models import Person
from registry.statuses.models import StatusPeriod

households = table_of(Household)
persons = table_of(Person)
status_periods = table_of(StatusPeriod)
imports = table_of(ImportRecord)
change_log = table_of(ChangeLogEntry)
registry_lock = table_of(RegistryLock)

__all__ = [
    "ChangeLogEntry",
    "Household",
    "ImportRecord",
    "Person",
    "RegistryLock",
    "StatusPeriod",
    "change_log",
    "households",
    "imports",
    "metadata",
    "persons",
    "registry_lock",
    "status_periods",
]
