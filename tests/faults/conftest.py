"""The fault tests' stack (``tests.support.stack``) on fresh databases of the machine's
PostgreSQL server. Shared by the tests of this folder (module scope); each test uses its own
patients and brings back any process it stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import DatabaseFactory
from tests.support.data import make_patients
from tests.support.stack import Stack, running_stack

PATIENTS = 3000


@pytest.fixture(scope="module")
def stack(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(
        database_factory("postgres", "faults_registry"),
        database_factory("postgres", "faults_settlement"),
        tmp_path_factory.mktemp("fault-logs"),
        make_patients(PATIENTS, seed=23, start=500_000),
    ) as stack:
        yield stack
