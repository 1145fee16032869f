"""The administrators' side app (``svc``, on SQLite and PostgreSQL), from
``tests/settlement/admin/conftest.py``: the month-boundary books are read through its reports
and reconciliations."""

from tests.settlement.admin.conftest import _admin_pool, svc

__all__ = ["_admin_pool", "svc"]
