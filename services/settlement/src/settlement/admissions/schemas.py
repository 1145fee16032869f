"""Admission (入院登记, like the national 2401): may the patient be treated first and pay later?"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from settlement.schemas import (
    EXAMPLE_ID_MASKED,
    EXAMPLE_ID_NUMBER,
    FundLimitOut,
    PastDate,
    PatientIn,
    PatientOut,
    Strict,
    VisitId,
)
from shared.timestamps import Timestamp


class AdmissionVisit(Strict):
    visit_id: VisitId
    type: Literal["inpatient", "outpatient"] = "inpatient"
    admitted_on: PastDate


class AdmissionRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "patient": {"id_number": EXAMPLE_ID_NUMBER, "name": "张三"},
                    "visit": {
                        "visit_id": "ZY20260001",
                        "type": "inpatient",
                        "admitted_on": "2026-03-02",
                    },
                }
            ]
        },
    )

    patient: PatientIn
    visit: AdmissionVisit


class AdmissionOut(BaseModel):
    """``deposit_free``: the patient is treated first and pays later, without a deposit
    (先诊疗后付费), because the policy names their aid class. ``limits``: what each fund can
    still pay them this year. The settle of this visit uses the eligibility recorded here."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "hospital_code": "H370305001",
                    "visit_id": "ZY20260001",
                    "visit_type": "inpatient",
                    "admitted_on": "2026-03-02",
                    "patient": {
                        "id_number_masked": EXAMPLE_ID_MASKED,
                        "name": "张三",
                        "aid_class": "key",
                        "categories": ["registered_poor"],
                        "registered": True,
                        "eligibility_on": "2026-03-02",
                        "eligibility_source": "admission",
                    },
                    "deposit_free": True,
                    "policy_version": "2020",
                    "limits": [
                        {
                            "fund_pay_type": "390100",
                            "fund_pay_type_name": "城乡居民基本医疗保险基金",
                            "visit_type": "inpatient",
                            "paid_this_year": "0.00",
                            "annual_limit": "200000.00",
                            "remaining": "200000.00",
                        }
                    ],
                    "recorded_at": "2026-03-02T01:00:00Z",
                }
            ]
        }
    )

    hospital_code: str
    visit_id: str
    visit_type: Literal["inpatient", "outpatient"]
    admitted_on: date
    patient: PatientOut
    deposit_free: bool
    policy_version: str
    limits: list[FundLimitOut]
    recorded_at: Timestamp
