"""Chinese labels for the engine's codes, shared by the cashier's lines, the receipt, reports
and the administrator's page. One place, so every screen says the same thing."""

from __future__ import annotations

from typing import Final

AID_CLASS_LABELS: Final[dict[str, str]] = {
    "key": "重点救助对象",
    "assisted": "一般救助对象",
    "none": "普通参保人员",
}
"""Aid classes of a policy (``key`` / ``assisted`` / ``none``)."""

VISIT_TYPE_LABELS: Final[dict[str, str]] = {"inpatient": "住院", "outpatient": "门诊"}
"""Visit types."""

ITEM_CATEGORY_LABELS: Final[dict[str, str]] = {"A": "甲类", "B": "乙类", "C": "丙类"}
"""Charge categories of a fee item (甲 / 乙 / 丙)."""

REGISTRY_CATEGORY_LABELS: Final[dict[str, str]] = {
    "registered_poor": "建档立卡贫困户",
    "dibao": "低保",
    "destitute": "特困供养",
    "low_income": "低收入家庭",
    "illness_poverty": "因病致贫",
    "poor_disabled": "贫困残疾人",
}
"""Poverty and assistance categories a person holds in the registry."""

HOSPITAL_LEVEL_LABELS: Final[dict[int, str]] = {1: "一级", 2: "二级", 3: "三级"}
"""Hospital levels as printed on a receipt."""

FUND_KIND_LABELS: Final[dict[str, str]] = {
    "basic": "基本医保",
    "critical_illness": "大病保险",
    "medical_assistance": "医疗救助",
    "bottom_line": "政府兜底",
    "temporary_assistance": "临时救助",
    "outpatient_chronic": "门诊慢特病",
    "graded_assistance": "医疗救助·分类分段",
    "secondary_assistance": "二次医疗救助",
    "supplementary": "补充保险",
    "disease_programme": "专项救治",
}
"""Short names of the kinds of tier, as the cashier's lines begin."""

SETLINFO_FUND_LABELS: Final[dict[str, str]] = {
    "hifp_pay": "基本医保",
    "hifmi_pay": "大病保险",
    "maf_pay": "医疗救助",
    "oth_pay": "其他",
}
"""Short names of the four ``setlinfo`` fund columns."""
