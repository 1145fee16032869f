"""The administrators' side app for the policy simulation (``sim_svc``: a database of its own
per backend), defined in ``tests/settlement/admin/conftest.py`` and shared by the suites of the
admin page, reports, reconciliation and simulation."""

from tests.settlement.admin.conftest import _admin_pool, sim_svc

__all__ = ["_admin_pool", "sim_svc"]
