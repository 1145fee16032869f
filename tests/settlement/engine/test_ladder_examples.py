"""Worked examples of the plan's whole assistance ladder (the ``2023`` sample), computed by hand
with the arithmetic in the comments.

The 2023 ladder, in waterfall order (inpatient): basic insurance (deductible 200/500/1,000 by
level, halved for key; 85 % / 75 % / 60 %) → critical illness (threshold key 6,000, others
12,000; 55 % / 50 % up to 100,000 above it) → 扶贫特惠保险 990101 (key and assisted: 50 % of
what is left, cap 50,000) → graded assistance 610100 (key: threshold 0, 70 % up to 10,000 of
the year's base above it, 75 % above; assisted: threshold 1,000, 60 % then 65 %) → secondary
assistance 610300 (key: 70 % of the year's amount left above 3,000, limit 20,000) → bottom
line 640100 (key: above 5,000, limit 100,000) → the disease programmes' fund 610400.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from settlement.engine import (
    BillInputError,
    FundDetail,
    PolicyError,
    PolicySet,
    compute,
    ladder_policy_dir,
    load_policy,
    remaining_limits,
    to_be_absorbed,
)

from .helpers import P2020, P2023, D, apply_deltas, check_invariants, codes, item, row, settle

LADDER_TEXT = (ladder_policy_dir() / "2023.toml").read_text(encoding="utf-8")


def detail(bill_details: tuple[FundDetail, ...], code: str) -> FundDetail:
    (found,) = [d for d in bill_details if d.fund_pay_type == code]
    return found


def test_cataract_of_a_key_patient_costs_only_the_out_of_scope_amounts() -> None:
    # 光明工程: a key patient's cataract operation (H25.9), level 2.
    # Items: A surgery 3,000.00; B lens 2,000.00 with a price cap of 1,800.00 (200.00 above
    # the cap, 10 % of 1,800 = 180.00 paid first, 1,620.00 in scope); A bed 60.00 × 3 =
    # 180.00; C 100.00. In scope 3,000 + 1,620 + 180 = 4,800.00; out of scope
    # 200 + 180 + 100 = 480.00; total 5,280.00.
    items = [
        item("A", "3000.00", code="330100"),
        item("B", "2000.00", cap="1800.00", code="LENS"),
        item("A", "60.00", "3", code="BED"),
        item("C", "100.00", code="MEAL"),
    ]
    bill = settle(P2023, items, level=2, aid="key", diagnoses=["H25.901"], age=68)
    check_invariants(bill)
    # basic: deductible 500 halved = 250; (4,800 − 250) × 75 % = 3,412.50; left 1,387.50
    assert row(bill, "390100") == (D("3412.50"), D("200000.00"))
    # critical illness: base 1,387.50 < 6,000 → 0
    assert row(bill, "390200")[0] == D("0.00")
    # 扶贫特惠保险: 1,387.50 × 50 % = 693.75; left 693.75
    assert row(bill, "990101")[0] == D("693.75")
    # graded assistance: base 693.75 above threshold 0, × 70 % = 485.625 → 485.63; left 208.12
    assert row(bill, "610100")[0] == D("485.63")
    # secondary assistance: year's amount left 208.12 < 3,000 → 0; bottom line < 5,000 → 0
    assert row(bill, "610300")[0] == D("0.00")
    assert row(bill, "640100")[0] == D("0.00")
    # 光明工程: the patient pays at most 0 % of 4,800 = 0.00 → the fund pays 208.12
    assert row(bill, "610400") == (D("208.12"), None)
    # The patient pays the out-of-scope 480.00 only.
    assert bill.inscp_scp_amt == D("4800.00")
    assert bill.psn_cash_pay == D("480.00")
    assert bill.fulamt_ownpay_amt + bill.overlmt_selfpay + bill.preselfpay_amt == D("480.00")
    assert (bill.hifp_pay, bill.hifmi_pay, bill.maf_pay, bill.oth_pay) == (
        D("3412.50"),
        D("0.00"),
        D("693.75"),  # 485.63 + 0 + 208.12
        D("693.75"),  # 693.75 + 0
    )
    assert codes(bill) == ["390100", "390200", "990101", "610100", "610300", "640100", "610400"]
    assert bill.deltas == {
        "390100.inpatient": D("3412.50"),
        "390200.base": D("1387.50"),
        "990101": D("693.75"),
        "610100.base": D("693.75"),
        "610100": D("485.63"),
        "610300.cash_base": D("208.12"),
        "640100.cash_base": D("208.12"),
        "610400": D("208.12"),
    }
    # The trace says which programme and diagnosis; the cashier's line how.
    assert bill.trace[1] == {
        "step": "programme",
        "name": "光明工程",
        "diagnosis": "H25.901",
        "age": "68",
    }
    line = detail(bill.setldetail, "610400").setl_proc_info
    assert line == (
        "专项救治·光明工程（重点救助对象）：政策范围内费用4800.00元，个人负担不超过0%即0.00元，"
        "各项基金支付后个人尚负担208.12元，专项救治支付208.12元"
    )
    assert detail(bill.setldetail, "610100").setl_proc_info.startswith(
        "医疗救助·分类分段（重点救助对象）：本次计入693.75元，年度累计0.00→693.75元，起付线0.00元"
    )

    # Without the cataract diagnosis there is no programme: the patient keeps 208.12 in scope.
    other = settle(P2023, items, level=2, aid="key", diagnoses=["I21.9"], age=68)
    assert "610400" not in codes(other)
    assert other.psn_cash_pay == D("688.12")  # 480.00 + 208.12
    # An ordinary insured person (class none) is not in the programme either: basic only, then
    # critical illness (base 1,387.50 < 12,000).
    none = settle(P2023, items, level=2, aid="none", diagnoses=["H25.901"], age=68)
    assert codes(none) == ["390100", "390200"]
    # basic: deductible 500; (4,800 − 500) × 75 % = 3,225.00 → patient 1,575.00 + 480.00
    assert none.psn_cash_pay == D("2055.00")


def test_all_of_a_ten_year_old_in_the_children_s_programme() -> None:
    # 大病专项救治（儿童）: acute lymphoblastic leukaemia (C91.0) of a 10-year-old of the assisted
    # class, level 3. Items: A 12,800.00; B 8,000.00 (10 % = 800.00 paid first, 7,200.00 in
    # scope); C 500.00. In scope 20,000.00; out of scope 1,300.00; total 21,300.00.
    items = [item("A", "12800.00"), item("B", "8000.00"), item("C", "500.00")]
    bill = settle(P2023, items, level=3, aid="assisted", diagnoses=["C91.000"], age=10)
    check_invariants(bill)
    # basic: deductible 1,000 (assisted: not reduced); 19,000 × 60 % = 11,400.00; left 8,600
    assert row(bill, "390100")[0] == D("11400.00")
    assert bill.act_pay_dedc == D("1000.00")
    # critical illness: base 8,600 < 12,000 → 0
    assert row(bill, "390200")[0] == D("0.00")
    # 扶贫特惠保险: 8,600 × 50 % = 4,300.00; left 4,300.00
    assert row(bill, "990101")[0] == D("4300.00")
    # graded assistance (assisted): (4,300 − 1,000) × 60 % = 1,980.00; left 2,320.00
    assert row(bill, "610100")[0] == D("1980.00")
    # secondary assistance and bottom line are for the key class only: no rows.
    assert "610300" not in codes(bill)
    assert "640100" not in codes(bill)
    # The programme: the patient pays at most 10 % of 20,000 = 2,000.00; 2,320 − 2,000 = 320.00
    assert row(bill, "610400")[0] == D("320.00")
    # Patient: 2,000.00 in scope + 1,300.00 out of scope.
    assert bill.psn_cash_pay == D("3300.00")
    assert bill.trace[1]["name"] == "大病专项救治（儿童）"

    # At 15 the children's programme no longer applies (and C91.0 is not among the diseases of
    # any age): the patient keeps 2,320.00 in scope.
    older = settle(P2023, items, level=3, aid="assisted", diagnoses=["C91.000"], age=15)
    assert "610400" not in codes(older)
    assert older.psn_cash_pay == D("3620.00")
    # Without an age (unknown) an age-bound programme does not apply either.
    unknown = settle(P2023, items, level=3, aid="assisted", diagnoses=["C91.000"])
    assert "610400" not in codes(unknown)
    # A 10-year-old's acute myeloid leukaemia (C92.0) is not one of the nine diseases.
    aml = settle(P2023, items, level=3, aid="assisted", diagnoses=["C92.000"], age=10)
    assert "610400" not in codes(aml)
    # Gastric cancer (C16) is covered at any age: the same 10 % holds for a 60-year-old.
    gastric = settle(P2023, items, level=3, aid="assisted", diagnoses=["C16.900"], age=60)
    assert row(gastric, "610400")[0] == D("320.00")
    assert gastric.trace[1]["name"] == "大病专项救治"


def test_twelve_monthly_dialysis_bills() -> None:
    # 门诊慢特病: an ordinary insured person (class none) on dialysis (N18.5), one outpatient bill
    # a month at a level-2 hospital: A haemodialysis 420.00 × 13 = 5,460.00; B erythropoietin
    # 95.00 × 8 = 760.00 (10 % = 76.00 paid first, 684.00 in scope). In scope 6,144.00, out of
    # scope 76.00, total 6,220.00. The dialysis group: deductible 500 a year (class none),
    # 90 %, annual cap 60,000, counted toward the critical-illness base; the general outpatient
    # rule (50 %, cap 300) does not apply to these visits.
    items = [item("A", "420.00", "13"), item("B", "95.00", "8")]
    totals: dict[str, Decimal] = {}
    bills = []
    for _month in range(12):
        bill = settle(
            P2023, items, level=2, visit="outpatient", totals=totals, diagnoses=["N18.500"], age=50
        )
        check_invariants(bill)
        assert codes(bill) == ["390101", "390200"]
        bills.append(bill)
        totals = apply_deltas(totals, bill.deltas)
    paid = [b.hifp_pay for b in bills]
    # Month 1: the year's deductible 500 → (6,144 − 500) × 90 % = 5,079.60; the critical-
    # illness base grows by 6,144 − 5,079.60 = 1,064.40. Patient 1,064.40 + 76 = 1,140.40.
    assert paid[0] == D("5079.60")
    assert bills[0].act_pay_dedc == D("500.00")
    assert bills[0].psn_cash_pay == D("1140.40")
    # Months 2–10: no deductible left: 6,144 × 90 % = 5,529.60; base +614.40; patient 690.40.
    assert paid[1:10] == [D("5529.60")] * 9
    assert all(b.act_pay_dedc == D("0.00") for b in bills[1:])
    assert all(b.psn_cash_pay == D("690.40") for b in bills[1:10])
    # After 10 months: 5,079.60 + 9 × 5,529.60 = 54,846.00 paid; base 1,064.40 + 9 × 614.40
    # = 6,594.00. Month 11: 5,529.60 due, 60,000 − 54,846 = 5,154.00 left → 5,154.00; base
    # +990.00 = 7,584.00 (< 12,000). Patient 990.00 + 76 = 1,066.00.
    assert paid[10] == D("5154.00")
    assert row(bills[10], "390101") == (D("5154.00"), D("5154.00"))
    assert "已达年度封顶线，实付5154.00元" in bills[10].setldetail[0].setl_proc_info
    assert bills[10].psn_cash_pay == D("1066.00")
    # Month 12: the cap is reached, the group pays 0; the whole 6,144 goes to the critical-
    # illness base: 7,584 → 13,728, above 12,000 by 1,728 × 50 % = 864.00. Patient
    # 6,144 − 864 + 76 = 5,356.00.
    assert paid[11] == D("0.00")
    assert bills[11].hifmi_pay == D("864.00")
    assert bills[11].psn_cash_pay == D("5356.00")
    # The year: 60,000.00 from the group, 864.00 from critical illness; the patient
    # 1,140.40 + 9 × 690.40 + 1,066.00 + 5,356.00 = 13,776.00 (= 12 × 6,220 − 60,864).
    assert sum(paid, D(0)) == D("60000.00")
    assert sum((b.psn_cash_pay for b in bills), D(0)) == D("13776.00")
    assert totals["390101.dialysis"] == D("60000.00")
    assert totals["390101.dialysis.dedc"] == D("500.00")
    assert totals["390200.base"] == D("13728.00")
    assert "390100.outpatient" not in totals  # the general outpatient cap is untouched
    # The accumulators answer: one row per disease group, each with its own cap.
    limits = {
        (x.fund_pay_type, x.visit_type, x.group): x
        for x in remaining_limits(P2023, aid_class="none", totals=totals)
    }
    dialysis = limits["390101", "outpatient", "dialysis"]
    assert (dialysis.paid_this_year, dialysis.annual_limit, dialysis.remaining) == (
        D("60000.00"),
        D("60000.00"),
        D("0.00"),
    )
    assert dialysis.fund_pay_type_name == "城乡居民基本医疗保险基金（门诊慢特病）（尿毒症透析）"
    assert limits["390101", "outpatient", "hypertension_diabetes"].remaining == D("2000.00")
    assert limits["390100", "outpatient", None].remaining == D("300.00")
    # A general outpatient visit of the same year still has the general rule and its cap:
    # A 100.00 × 50 % = 50.00, no critical illness on it.
    cold = settle(
        P2023, [item("A", "100.00")], visit="outpatient", totals=totals, diagnoses=["J06.9"]
    )
    assert codes(cold) == ["390100"]
    assert cold.hifp_pay == D("50.00")


def test_a_key_patient_s_dialysis_is_also_in_the_programme() -> None:
    # The same monthly bill for a key patient: the group's deductible is 0 for key, so
    # 6,144 × 90 % = 5,529.60; left 614.40 (critical illness: base 614.40 < 6,000 → 0).
    # 扶贫特惠保险 307.20; graded assistance 307.20 × 70 % = 215.04; left 92.16; secondary and
    # bottom line below their thresholds. End-stage renal disease is in 大病专项救治: the
    # patient pays at most 10 % of 6,144 = 614.40 — already below, so the fund pays 0.00.
    items = [item("A", "420.00", "13"), item("B", "95.00", "8")]
    bill = settle(P2023, items, level=2, visit="outpatient", aid="key", diagnoses=["N18.5"])
    check_invariants(bill)
    assert codes(bill) == [
        "390101",
        "390200",
        "990101",
        "610100",
        "610300",
        "640100",
        "610400",
    ]
    assert [d.fund_payamt for d in bill.setldetail] == [
        D("5529.60"),
        D("0.00"),
        D("307.20"),
        D("215.04"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    ]
    assert bill.psn_cash_pay == D("168.16")  # 92.16 + 76.00
    assert [s["step"] for s in bill.trace[:3]] == ["scope", "programme", "chronic_disease"]


def test_a_year_crosses_the_secondary_assistance_threshold_in_the_middle_of_a_bill() -> None:
    # A key patient, two stays of A 50,000.00 at a level-3 hospital.
    first = settle(P2023, [item("A", "50000.00")], level=3, aid="key")
    check_invariants(first)
    # Bill 1: basic (50,000 − 500) × 60 % = 29,700.00, left 20,300.00; critical illness
    # (20,300 − 6,000) × 55 % = 7,865.00, left 12,435.00; 扶贫特惠保险 6,217.50, left 6,217.50;
    # graded 6,217.50 × 70 % = 4,352.25, left 1,865.25: the year's amount left 0 → 1,865.25 is
    # below 3,000, so secondary assistance pays 0.00. Patient 1,865.25.
    assert [d.fund_payamt for d in first.setldetail] == [
        D("29700.00"),
        D("7865.00"),
        D("6217.50"),
        D("4352.25"),
        D("0.00"),
        D("0.00"),
    ]
    totals = apply_deltas({}, first.deltas)
    second = settle(P2023, [item("A", "50000.00")], level=3, aid="key", totals=totals)
    check_invariants(second)
    # Bill 2: basic 29,700.00 again, left 20,300.00; critical illness: the year's base
    # 20,300 → 40,600, F = 34,600 × 55 % = 19,030.00 less 7,865.00 paid = 11,165.00, left
    # 9,135.00; 扶贫特惠保险 4,567.50, left 4,567.50; graded: the year's base 6,217.50 →
    # 10,785.00 crosses the 10,000 segment: F = 10,000 × 70 % + 785 × 75 % = 7,588.75 less
    # 4,352.25 = 3,236.50, left 1,331.00.
    assert row(second, "390200")[0] == D("11165.00")
    assert row(second, "610100")[0] == D("3236.50")
    # Secondary assistance: the year's amount left 1,865.25 → 3,196.25 crosses 3,000 inside
    # this bill; only the 196.25 above it counts: 196.25 × 70 % = 137.375 → 137.38.
    assert row(second, "610300") == (D("137.38"), D("20000.00"))
    step = next(s for s in second.trace if s["step"] == "secondary_assistance")
    assert (step["cash_before"], step["cash_after"], step["target"], step["paid_before"]) == (
        "1865.25",
        "3196.25",
        "137.38",
        "0.00",
    )
    line = detail(second.setldetail, "610300").setl_proc_info
    assert line.startswith(
        "二次医疗救助（重点救助对象）：年度政策范围内个人负担累计1865.25→3196.25元，"
        "起付线3000.00元，超出部分按70%救助，按累计计算本次支付137.38元"
    )
    # Bottom line: 1,865.25 + (1,331.00 − 137.38) = 3,058.87 < 5,000 → 0. Patient 1,193.62.
    assert row(second, "640100")[0] == D("0.00")
    assert second.psn_cash_pay == D("1193.62")
    # Each cumulative tier's year total is its target of the year's base.
    year = apply_deltas(totals, second.deltas)
    assert year["610300"] == D("137.38")
    assert year["610100"] == D("7588.75")
    assert year["390200"] == D("19030.00")
    assert to_be_absorbed(P2023, aid_class="key", totals=year) == {}
    # Revoke bill 1: secondary assistance has paid 137.38 for a year's amount left of
    # 1,331.00 (below 3,000): 137.38 to be absorbed by the next bills.
    after_revoke = apply_deltas(year, first.deltas, -1)
    assert to_be_absorbed(P2023, aid_class="key", totals=after_revoke)["610300"] == D("137.38")


def test_the_guard_refuses_a_key_group_ratio_of_0_65() -> None:
    text = LADDER_TEXT.replace(
        "ratio = { key = 0.70, assisted = 0.60 }", "ratio = { key = 0.65, assisted = 0.60 }"
    )
    assert text != LADDER_TEXT
    candidate = load_policy(text, source="2023.toml")  # the engine reads it ...
    with pytest.raises(PolicyError) as refused:  # ... a deployment refuses it at start-up
        PolicySet((candidate,))
    assert str(refused.value) == (
        "2023.toml: funds[4].bands[0].ratio.key: 0.65 is below the plan's medical-assistance "
        "ratio of 0.70 (70 %) for key assistance groups"
    )
    assert refused.value.key == "funds[4].bands[0].ratio.key"


def test_the_bottom_line_is_limited_in_2023() -> None:
    # A four-day stay with huge quantities: 2020 has no bottom-line limit, 2023 one of 100,000.
    items = [item("A", "99999.99", "1000")]  # 99,999,990.00
    old = settle(P2020, items, level=1, aid="key")
    new = settle(P2023, items, level=1, aid="key")
    check_invariants(new)
    assert row(old, "640100")[0] > D("1000000")
    assert row(new, "640100") == (D("100000.00"), D("100000.00"))
    # The target is held to the limit: the year's 99,169,990.00 above 5,000 → 100,000.00.
    assert detail(new.setldetail, "640100").setl_proc_info.endswith(
        "兜底线5000.00元，超出部分支付100000.00元；年度兜底限额100000.00元，本次前剩余100000.00元"
    )


def test_compute_refuses_bad_diagnoses_and_ages() -> None:
    items = [item("A", "100.00")]
    for kwargs, field in (
        ({"diagnoses": [""]}, "diagnoses[0]"),
        ({"diagnoses": ["H25", 7]}, "diagnoses[1]"),
        ({"diagnoses": "H25"}, "diagnoses"),
        ({"age": -1}, "age"),
        ({"age": True}, "age"),
    ):
        with pytest.raises(BillInputError) as refused:
            compute(
                P2023,
                hospital_level=1,
                visit_type="inpatient",
                aid_class="key",
                items=items,
                totals={},
                **kwargs,  # type: ignore[arg-type]
            )
        assert refused.value.field == field
