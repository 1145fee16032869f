"""Schemathesis over the envelope endpoint (positive and schema-violating envelopes, with the
hospital's key, the envelope made to name that hospital half of the time): never a server
error, every answer documented. Then random ``input`` of every supported transaction, built
from the national field names: always an answer envelope, ``infcode`` 0 or -1."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.python import asgi

from settlement.national.router import PATH
from settlement.national.service import SUPPORTED
from tests.fuzz.checks import CHECKS, FUZZ
from tests.settlement.conftest import migrate
from tests.settlement.national.conftest import NATIONAL_SECRET, answer_of, body_of, envelope
from tests.support.apps import SETTLEMENT_ADMIN_TOKEN, settlement_app
from tests.support.data import make_patients

PATIENTS = make_patients(20, seed=14, start=840_000)
URL = f"sqlite:///{tempfile.mkdtemp(prefix='medaid-national-fuzz-')}/settlement.db"
app = settlement_app(URL, PATIENTS, migrated=True, SETTLEMENT_NATIONAL_SECRET=NATIONAL_SECRET)
schema = schemathesis.openapi.from_dict(app.openapi()).include(path=PATH)
schema.app = app
_hospital: dict[str, str] = {}


@pytest.fixture(scope="module")
def hospital() -> Iterator[dict[str, str]]:
    """A hospital of the fuzzed app (its database migrated first)."""
    if not _hospital:
        migrate(URL)
        with asgi.get_client(app) as client:
            response = client.post(
                "/v1/hospitals",
                headers={"Authorization": f"Bearer {SETTLEMENT_ADMIN_TOKEN}"},
                json={
                    "code": "HN0001",
                    "name": "国家接口测试医院",
                    "level": 2,
                    "region_code": "370305",
                },
            )
            assert response.status_code == 201, response.text
            _hospital.update(code="HN0001", key=response.json()["api_key"])
    return _hospital


@schema.parametrize()
@FUZZ
def test_the_envelope_endpoint_never_fails(case: Any, hospital: dict[str, str]) -> None:
    body = case.body
    if isinstance(body, dict) and len(str(body)) % 2 == 0:
        body["fixmedins_code"] = hospital["code"]
        infno = body.get("infno")
        if not (isinstance(infno, str) and infno in SUPPORTED):
            body["infno"] = SUPPORTED[len(str(body)) % len(SUPPORTED)]
    case.call_and_validate(headers={"Authorization": f"Bearer {hospital['key']}"}, checks=CHECKS)


FIELDS = (
    "psn_no mdtrt_id setl_id ipt_otp_no ipt_no begntime endtime mdtrt_cert_type mdtrt_cert_no "
    "certno psn_cert_type psn_name feedetl_sn chrg_bchno med_list_codg chrgitm_lv pric cnt "
    "det_item_fee_sumamt selfpay_prop pric_uplmt_amt medfee_sumamt mid_setl_flag cum_ym "
    "stmt_begndate stmt_enddate fund_pay_sumamt acct_pay cash_payamt fixmedins_setl_cnt clr_type "
    "refd_setl_flag init_setl_id omsgid oinfno diag_code maindiag_flag diag_srt_no"
).split()
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, max_value=10**9, min_value=-(10**9)
    ),
    st.text(max_size=20),
    st.sampled_from(["01", "02", "03", "1", "0", "0000", "2026-11-30", "2026-11-30 10:00:00"]),
    st.sampled_from([p.id_number for p in PATIENTS[:3]]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6)
    ),
    max_leaves=12,
)
NODES = st.sampled_from(
    ["data", "feedetail", "mdtrtinfo", "dscginfo", "diseinfo", "detail", "signIn"]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
@given(
    infno=st.sampled_from(SUPPORTED),
    input_=st.dictionaries(
        NODES,
        st.one_of(
            st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
            st.lists(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8), max_size=3),
            VALUES,
        ),
        max_size=3,
    ),
)
def test_random_inputs_always_answer_an_envelope(
    hospital: dict[str, str], infno: str, input_: dict[str, Any]
) -> None:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    body = body_of(envelope(infno, hospital["code"], plain(input_)))
    with asgi.get_client(app) as client:
        response = client.post(
            PATH, data=body, headers={"Authorization": f"Bearer {hospital['key']}"}
        )
    assert response.status_code == 200, response.text
    answer = answer_of(response.text)
    assert answer["infcode"] in (0, -1)
    assert (answer["err_msg"] is None) == (answer["infcode"] == 0)
    assert answer["output"] is None or isinstance(answer["output"], dict)
