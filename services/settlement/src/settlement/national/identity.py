"""Who a national person is: the pseudonymous ``psn_no`` (人员编号) and what the ID number
itself says (birth date, gender, age).

``psn_no`` is ``HMAC-SHA256(key = SETTLEMENT_NATIONAL_SECRET, message = "psn_no:" + ID
number)`` as lower-case hex, first 30 characters (120 bits): stable for a deployment, the same
at every hospital, and it never reveals the ID number (which answers show masked only). The
ID number follows GB 11643: characters 7–14 are the birth date, the 17th is odd for a man.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

PSN_NO_LENGTH = 30


def psn_no_of(secret: str, id_number: str) -> str:
    """The person's ``psn_no`` under the deployment's secret."""
    digest = hmac.new(
        secret.encode("utf-8"), b"psn_no:" + id_number.upper().encode("ascii"), hashlib.sha256
    )
    return digest.hexdigest()[:PSN_NO_LENGTH]


def birth_date(id_number: str) -> date:
    """Characters 7–14 (``YYYYMMDD``) of a validated ID number."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def gender(id_number: str) -> str:
    """National 性别 code: ``1`` man (the 17th character odd), ``2`` woman."""
    return "1" if int(id_number[16]) % 2 else "2"


def age_on(id_number: str, on: date) -> int:
    """Whole years between the birth date and ``on``."""
    born = birth_date(id_number)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
