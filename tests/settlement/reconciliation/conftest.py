"""The administrators' side app (``svc``: the settlement app on SQLite and PostgreSQL with a
stand-in registry), defined in ``tests/settlement/admin/conftest.py`` and shared by the suites
of the admin page, reports, reconciliation and simulation."""

from tests.settlement.admin.conftest import _admin_pool, svc

__all__ = ["_admin_pool", "svc"]
