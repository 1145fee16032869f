"""The Chinese labels of the administrator's pages (the national interface's names where it
has them); the English field names appear only as tooltips."""

from __future__ import annotations

from typing import Any

from settlement.receipts.service import AID_CLASS_LABELS, VISIT_TYPE_LABELS
from settlement.reconciliation.schemas import RESULT_NAMES
from settlement.supervision.schemas import FLAG_STATUS_LABELS, SEVERITY_LABELS

GROUP_LABELS = {
    "hospital": "医疗机构",
    "fund": "基金",
    "aid_class": "救助类别",
    "region": "地区",
    "day": "结算日期",
}
"""Column heading of a report's group, and the CSV links (按医疗机构, …)."""

AMOUNT_LABELS = {
    "medfee_sumamt": "医疗费用总额",
    "hifp_pay": "统筹基金支出",
    "hifmi_pay": "大病保险支出",
    "maf_pay": "医疗救助支出",
    "oth_pay": "其他基金支出",
    "fund_pay_sumamt": "基金支付",
    "psn_cash_pay": "个人现金支付",
    "fund_payamt": "基金支付金额",
}
"""The ``setlinfo`` amounts as the page heads them (the field name is the tooltip)."""

DIFFERENCE_LABELS = {
    "medfee_sumamt": "医疗费用总额",
    "fund_pay_sumamt": "基金支付",
    "status": "状态",
    "visit_id": "就诊号",
    "id_number": "身份证号",
}
STATUS_LABELS = {"settled": "已结算", "revoked": "已撤销", "preview": "预结算"}
KIND_LABELS = {"summary": "总额对账（3201）", "detail": "明细对账（3202）"}
PER_LABELS = {"day": "按日", "month": "按月"}

GLOBALS: dict[str, Any] = {
    "GROUP_LABELS": GROUP_LABELS,
    "AMOUNT_LABELS": AMOUNT_LABELS,
    "DIFFERENCE_LABELS": DIFFERENCE_LABELS,
    "STATUS_LABELS": STATUS_LABELS,
    "KIND_LABELS": KIND_LABELS,
    "PER_LABELS": PER_LABELS,
    "RESULT_NAMES": RESULT_NAMES,
    "AID_CLASS_LABELS": AID_CLASS_LABELS,
    "VISIT_TYPE_LABELS": VISIT_TYPE_LABELS,
    "SEVERITY_LABELS": SEVERITY_LABELS,
    "FLAG_STATUS_LABELS": FLAG_STATUS_LABELS,
}
