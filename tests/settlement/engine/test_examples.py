"""Worked examples of the sample policies, computed by hand (arithmetic in the comments).

Unless said otherwise: policy 2017, inpatient, no running totals yet.
Deductibles 200/500/1000 by level (halved for key), basic ratios 85%/75%/60%.
"""

from __future__ import annotations

from settlement.engine import to_be_absorbed

from .helpers import P2017, P2020, D, apply_deltas, check_invariants, codes, item, row, settle


def test_level1_none_a_item() -> None:
    # A 10,000.00 at a level-1 hospital, class none.
    # basic: deductible 200; (10,000 − 200) × 85% = 8,330.00
    # critical illness: base 10,000 − 8,330 = 1,670 < threshold 12,000 → 0
    # medical assistance: class none → no row; patient 1,670.00
    bill = settle(P2017, [item("A", "10000.00")], level=1, aid="none")
    check_invariants(bill)
    assert bill.act_pay_dedc == D("200.00")
    assert bill.hifp_pay == D("8330.00")
    assert bill.hifmi_pay == D("0.00")
    assert bill.maf_pay == D("0.00")
    assert bill.psn_cash_pay == D("1670.00")
    assert codes(bill) == ["390100", "390200"]
    assert row(bill, "390100") == (D("8330.00"), D("200000.00"))
    assert bill.deltas == {"390100.inpatient": D("8330.00"), "390200.base": D("1670.00")}
    assert bill.policy_version == "2017"


def test_level2_key_with_b_and_c_items() -> None:
    # A 8,000; B 500 × 4 = 2,000 (10% pay first = 200, in scope 1,800); C 100 × 3 = 300.
    # in scope 9,800; medfee 10,300.
    # basic: deductible 500 halved = 250; (9,800 − 250) × 75% = 7,162.50
    # critical illness: base 9,800 − 7,162.50 = 2,637.50 < 6,000 → 0
    # medical assistance (key 70%): 2,637.50 × 70% = 1,846.25
    # patient: 2,637.50 − 1,846.25 = 791.25 in scope + 200 + 300 = 1,291.25
    items = [
        item("A", "8000.00", code="A1"),
        item("B", "500.00", "4", code="B1"),
        item("C", "100.00", "3", amount="300.00", code="C1"),
    ]
    bill = settle(P2017, items, level=2, aid="key")
    check_invariants(bill)
    assert bill.medfee_sumamt == D("10300.00")
    assert bill.fulamt_ownpay_amt == D("300.00")
    assert bill.preselfpay_amt == D("200.00")
    assert bill.overlmt_selfpay == D("0.00")
    assert bill.inscp_scp_amt == D("9800.00")
    assert bill.act_pay_dedc == D("250.00")
    assert bill.hifp_pay == D("7162.50")
    assert bill.hifmi_pay == D("0.00")
    assert bill.maf_pay == D("1846.25")
    assert bill.fund_pay_sumamt == D("9008.75")
    assert bill.psn_cash_pay == D("1291.25")
    assert codes(bill) == ["390100", "390200", "610100"]
    assert row(bill, "610100") == (D("1846.25"), D("60000.00"))


def test_level3_assisted_price_cap_and_own_b_ratio() -> None:
    # A 120.00 × 50 with a price cap of 100.00: amount 6,000, within cap 5,000, over 1,000.
    # B 250 × 4 = 1,000 with its own pay-first ratio 20%: 200 pay first, 800 in scope.
    # in scope 5,800; medfee 7,000.
    # basic: deductible 1,000 (assisted: not reduced); 4,800 × 60% = 2,880.00
    # critical illness: base 2,920 < 12,000 → 0
    # medical assistance (assisted 50%): 2,920 × 50% = 1,460.00
    # patient: 1,460 + 1,000 + 200 = 2,660.00
    items = [
        item("A", "120.00", "50", cap="100.00", code="A1"),
        item("B", "250.00", "4", ratio="0.20", code="B1"),
    ]
    bill = settle(P2017, items, level=3, aid="assisted")
    check_invariants(bill)
    assert bill.overlmt_selfpay == D("1000.00")
    assert bill.preselfpay_amt == D("200.00")
    assert bill.inscp_scp_amt == D("5800.00")
    assert bill.act_pay_dedc == D("1000.00")
    assert bill.hifp_pay == D("2880.00")
    assert bill.maf_pay == D("1460.00")
    assert bill.psn_cash_pay == D("2660.00")


def test_deductible_above_in_scope_amount() -> None:
    # Level 3, none: A 600 + C 50. The deductible (1,000) swallows the whole in-scope 600:
    # act_pay_dedc 600, basic 0; critical-illness base 600 (below threshold); patient 650.
    bill = settle(P2017, [item("A", "600.00"), item("C", "50.00")], level=3)
    check_invariants(bill)
    assert bill.act_pay_dedc == D("600.00")
    assert bill.hifp_pay == D("0.00")
    assert bill.psn_cash_pay == D("650.00")
    assert bill.deltas == {"390200.base": D("600.00")}


def test_level1_key_halved_deductible() -> None:
    # Level 1, key: A 150. Deductible 200 halved = 100; (150 − 100) × 85% = 42.50.
    # Critical illness base 107.50 (< 6,000). Medical assistance 107.50 × 70% = 75.25.
    # Patient 107.50 − 75.25 = 32.25.
    bill = settle(P2017, [item("A", "150.00")], level=1, aid="key")
    check_invariants(bill)
    assert bill.act_pay_dedc == D("100.00")
    assert bill.hifp_pay == D("42.50")
    assert bill.maf_pay == D("75.25")
    assert bill.psn_cash_pay == D("32.25")


def test_basic_annual_cap() -> None:
    # Level 1, none; the basic fund already paid 199,000 this year, the critical-illness base
    # is 5,000. A 10,000: basic due (10,000 − 200) × 85% = 8,330 but only 1,000 is left.
    # Critical illness: base +9,000 → 14,000; (14,000 − 12,000) × 50% = 1,000.
    # Patient: 10,000 − 1,000 − 1,000 = 8,000.
    totals = {"390100.inpatient": D("199000.00"), "390200.base": D("5000.00")}
    bill = settle(P2017, [item("A", "10000.00")], level=1, totals=totals)
    check_invariants(bill)
    assert row(bill, "390100") == (D("1000.00"), D("1000.00"))
    assert bill.hifmi_pay == D("1000.00")
    assert bill.psn_cash_pay == D("8000.00")
    assert "实付1000.00元" in bill.setldetail[0].setl_proc_info
    assert bill.deltas == {
        "390100.inpatient": D("1000.00"),
        "390200.base": D("9000.00"),
        "390200": D("1000.00"),
    }


def test_critical_illness_threshold_and_band_boundary_in_one_bill() -> None:
    # None, level 1; basic exhausted (200,000 paid), critical-illness base 10,000 (below the
    # 12,000 threshold). A 105,000: basic pays 0; base 10,000 → 115,000, i.e. 103,000 above
    # the threshold: 100,000 × 50% + 3,000 × 60% = 50,000 + 1,800 = 51,800.
    # Patient: 105,000 − 51,800 = 53,200.
    totals = {"390100.inpatient": D("200000.00"), "390200.base": D("10000.00")}
    bill = settle(P2017, [item("A", "105000.00")], level=1, totals=totals)
    check_invariants(bill)
    assert row(bill, "390100") == (D("0.00"), D("0.00"))
    assert row(bill, "390200") == (D("51800.00"), D("400000.00"))
    assert bill.psn_cash_pay == D("53200.00")
    info = bill.setldetail[1].setl_proc_info
    assert "50%" in info
    assert "60%" in info
    assert "70%" not in info


def test_key_patient_reaches_500000_cap_over_several_bills() -> None:
    # Key, level 3, basic exhausted; each bill A 300,000 (all of it critical-illness base).
    # Key bands: 55% to 100,000, 65% to 200,000, 75% above; threshold 6,000; cap 500,000.
    totals: dict[str, D] = {"390100.inpatient": D("200000.00")}
    bill_items = [item("A", "300000.00")]

    # Bill 1: base 0 → 300,000, above threshold 294,000:
    #   55,000 + 65,000 + 94,000 × 75% (70,500) = 190,500.
    #   Medical assistance: (300,000 − 190,500) × 70% = 76,650 > limit 60,000 → 60,000.
    #   Patient: 109,500 − 60,000 = 49,500.
    b1 = settle(P2017, bill_items, level=3, aid="key", totals=totals)
    check_invariants(b1)
    assert (b1.hifmi_pay, b1.maf_pay, b1.psn_cash_pay) == (
        D("190500.00"),
        D("60000.00"),
        D("49500.00"),
    )
    totals = apply_deltas(totals, b1.deltas)

    # Bill 2: base → 600,000, above threshold 594,000: 120,000 + 394,000 × 75% = 415,500;
    #   pays 415,500 − 190,500 = 225,000. Assistance limit used up → 0. Patient 75,000.
    b2 = settle(P2017, bill_items, level=3, aid="key", totals=totals)
    check_invariants(b2)
    assert (b2.hifmi_pay, b2.maf_pay, b2.psn_cash_pay) == (D("225000.00"), D("0.00"), D("75000.00"))
    assert row(b2, "610100") == (D("0.00"), D("0.00"))
    totals = apply_deltas(totals, b2.deltas)

    # Bill 3: base → 900,000: 120,000 + 694,000 × 75% = 640,500, capped at 500,000;
    #   pays 500,000 − 415,500 = 84,500 (exactly what was left). Patient 215,500.
    b3 = settle(P2017, bill_items, level=3, aid="key", totals=totals)
    check_invariants(b3)
    assert row(b3, "390200") == (D("84500.00"), D("84500.00"))
    assert b3.psn_cash_pay == D("215500.00")
    totals = apply_deltas(totals, b3.deltas)
    assert totals["390200"] == D("500000.00")

    # Bill 4: the cap is reached; the fund pays nothing more.
    b4 = settle(P2017, [item("A", "1000.00")], level=3, aid="key", totals=totals)
    assert row(b4, "390200") == (D("0.00"), D("0.00"))
    assert b4.psn_cash_pay == D("1000.00")

    # The same year for a person of class none stops at 400,000 (bill 3 of that year).
    none_totals: dict[str, D] = {"390100.inpatient": D("200000.00")}
    paid = D(0)
    for _ in range(3):
        bill = settle(P2017, bill_items, level=3, aid="none", totals=none_totals)
        paid += bill.hifmi_pay
        none_totals = apply_deltas(none_totals, bill.deltas)
    assert paid == D("400000.00")


def test_class_change_never_exceeds_what_is_left_under_the_cap() -> None:
    # The person was key and the fund paid 415,500 on a base of 600,000; now class none
    # (cap 400,000). A 50,000 (basic exhausted): F_none(650,000) − F_none(600,000) =
    # (110,000 + 638,000 × 70%) − (110,000 + 588,000 × 70%) = 35,000, but nothing is left
    # under the none cap (400,000 < 415,500) → 0. Patient 50,000.
    totals = {
        "390100.inpatient": D("200000.00"),
        "390200.base": D("600000.00"),
        "390200": D("415500.00"),
    }
    bill = settle(P2017, [item("A", "50000.00")], level=1, aid="none", totals=totals)
    check_invariants(bill)
    assert row(bill, "390200") == (D("0.00"), D("0.00"))
    assert bill.psn_cash_pay == D("50000.00")


def test_assistance_limits() -> None:
    # Assisted, level 1; 29,900 of the 30,000 assistance limit used.
    # A 2,000: basic (2,000 − 200) × 85% = 1,530; base 470; assistance 470 × 50% = 235 but
    # only 100 left → 100. Patient 470 − 100 = 370.
    totals = {"610100": D("29900.00")}
    bill = settle(P2017, [item("A", "2000.00")], level=1, aid="assisted", totals=totals)
    check_invariants(bill)
    assert row(bill, "610100") == (D("100.00"), D("100.00"))
    assert bill.psn_cash_pay == D("370.00")
    assert "已达年度救助限额" in bill.setldetail[-1].setl_proc_info

    # Key: 59,000 used of 60,000. A 20,000 at level 2: basic (20,000 − 250) × 75% = 14,812.50;
    # base 5,187.50 (< 6,000); assistance 5,187.50 × 70% = 3,631.25 → limited to 1,000.
    # Patient 4,187.50.
    totals = {"610100": D("59000.00")}
    bill = settle(P2017, [item("A", "20000.00")], level=2, aid="key", totals=totals)
    check_invariants(bill)
    assert row(bill, "610100") == (D("1000.00"), D("1000.00"))
    assert bill.psn_cash_pay == D("4187.50")


def test_outpatient_none_with_b_item() -> None:
    # Outpatient, none: A 400 + B 100 (10% = 10 pay first, 90 in scope); in scope 490.
    # basic: no deductible, 50% → 245 (annual outpatient cap 300). No critical illness
    # (inpatient only), no assistance (none). Patient 245 + 10 = 255.
    bill = settle(P2017, [item("A", "400.00"), item("B", "100.00")], level=2, visit="outpatient")
    check_invariants(bill)
    assert bill.act_pay_dedc == D("0.00")
    assert bill.hifp_pay == D("245.00")
    assert bill.psn_cash_pay == D("255.00")
    assert codes(bill) == ["390100"]
    assert bill.deltas == {"390100.outpatient": D("245.00")}


def test_outpatient_key_cap_and_assistance() -> None:
    # Outpatient, key; 200 of the 300 outpatient cap used. A 400: basic 200 due, 100 left → 100.
    # Assistance: 300 × 70% = 210. Patient 90.
    totals = {"390100.outpatient": D("200.00"), "390100.inpatient": D("5000.00")}
    bill = settle(P2017, [item("A", "400.00")], visit="outpatient", aid="key", totals=totals)
    check_invariants(bill)
    assert row(bill, "390100") == (D("100.00"), D("100.00"))
    assert bill.maf_pay == D("210.00")
    assert bill.psn_cash_pay == D("90.00")
    assert codes(bill) == ["390100", "610100"]


def test_outpatient_rounding_half_up() -> None:
    # Outpatient, none: A 10.01 → 50% = 5.005 → 5.01 (half up). Patient 5.00.
    # B 0.05: pay first 10% = 0.005 → 0.01; in scope 0.04 → 50% = 0.02.
    bill = settle(P2017, [item("A", "10.01")], visit="outpatient")
    assert (bill.hifp_pay, bill.psn_cash_pay) == (D("5.01"), D("5.00"))
    bill = settle(P2017, [item("B", "0.05")], visit="outpatient")
    assert (bill.preselfpay_amt, bill.inscp_scp_amt, bill.hifp_pay) == (
        D("0.01"),
        D("0.04"),
        D("0.02"),
    )


def test_2020_bottom_line_tier() -> None:
    # Policy 2020, key, level 2; the patient has already paid 4,000 of in-scope cash this year.
    # A 20,000: basic (20,000 − 250) × 75% = 14,812.50; critical illness base 5,187.50 (< 6,000);
    # assistance 5,187.50 × 70% = 3,631.25; in scope still on the patient 1,556.25.
    # Bottom line: cash 4,000 → 5,556.25, above 5,000 → pays 556.25 (oth_pay). Patient 1,000.
    totals = {"640100.cash_base": D("4000.00")}
    bill = settle(P2020, [item("A", "20000.00")], level=2, aid="key", totals=totals)
    check_invariants(bill)
    assert bill.policy_version == "2020"
    assert bill.maf_pay == D("3631.25")
    assert bill.oth_pay == D("556.25")
    assert row(bill, "640100") == (D("556.25"), None)
    assert bill.psn_cash_pay == D("1000.00")
    assert bill.deltas["640100.cash_base"] == D("1556.25")
    assert bill.deltas["640100"] == D("556.25")
    # The 2017 policy has no such tier: the patient pays the 1,556.25.
    assert settle(
        P2017, [item("A", "20000.00")], level=2, aid="key", totals=totals
    ).psn_cash_pay == D("1556.25")
    # Class none takes no part in the bottom line (its cash is still counted).
    none_bill = settle(P2020, [item("A", "20000.00")], level=2, aid="none", totals=totals)
    assert "640100" not in codes(none_bill)
    assert none_bill.deltas["640100.cash_base"] == none_bill.psn_cash_pay


def test_temporary_assistance_grant() -> None:
    # None, level 1: A 1,000 + C 500. basic (1,000 − 200) × 85% = 680; base 320.
    # Patient before the grant: 320 + 500 = 820. A grant balance of 300 pays 300 (oth_pay,
    # fund 610200 临时救助); patient 520.
    items = [item("A", "1000.00"), item("C", "500.00")]
    bill = settle(P2017, items, grant="300.00")
    check_invariants(bill)
    assert row(bill, "610200") == (D("300.00"), D("300.00"))
    assert bill.setldetail[-1].fund_pay_type_name == "临时救助"
    assert bill.oth_pay == D("300.00")
    assert bill.psn_cash_pay == D("520.00")
    assert bill.deltas["temporary_assistance"] == D("300.00")
    # A balance larger than the patient's share pays all of it.
    bill = settle(P2017, items, grant="5000.00")
    assert (bill.oth_pay, bill.psn_cash_pay) == (D("820.00"), D("0.00"))
    # No balance, no row.
    assert "610200" not in codes(settle(P2017, items))


def test_critical_illness_split_gives_same_total() -> None:
    # None, basic exhausted. One bill of 50,000: (50,000 − 12,000) × 50% = 19,000.
    # Two bills 20,000 + 30,000: 8,000 × 50% = 4,000, then 19,000 − 4,000 = 15,000.
    totals = {"390100.inpatient": D("200000.00")}
    whole = settle(P2017, [item("A", "50000.00")], totals=totals)
    first = settle(P2017, [item("A", "20000.00")], totals=totals)
    second = settle(P2017, [item("A", "30000.00")], totals=apply_deltas(totals, first.deltas))
    assert whole.hifmi_pay == D("19000.00")
    assert (first.hifmi_pay, second.hifmi_pay) == (D("4000.00"), D("15000.00"))


def test_trace_is_json_ready_and_names_steps() -> None:
    bill = settle(P2020, [item("A", "20000.00")], level=2, aid="key", grant="10.00")
    steps = [entry["step"] for entry in bill.trace]
    assert steps == [
        "scope",
        "basic",
        "critical_illness",
        "medical_assistance",
        "bottom_line",
        "temporary_assistance",
        "patient",
    ]
    assert all(
        isinstance(k, str) and isinstance(v, str) for entry in bill.trace for k, v in entry.items()
    )
    assert bill.trace[1]["deductible"] == "250.00"
    assert bill.setldetail[0].setl_proc_info.startswith("住院·2级医院")


def test_revoke_of_an_earlier_bill_is_corrected_by_the_next() -> None:
    # Policy 2020, key class, level 2; three inpatient bills, each one A item 330100 手术费
    # 30,000.00 × 1. Order: settle 1, settle 2, revoke 1, settle 3.
    # Every bill: basic deductible 500 × 0.5 = 250; (30,000 − 250) × 75% = 22,312.50;
    # critical-illness base 30,000 − 22,312.50 = 7,687.50 (key threshold 6,000, first band 55%).
    surgery = [item("A", "30000.00", code="330100")]

    def bill(totals: dict[str, D]) -> tuple[D, D, D, D]:
        b = settle(P2020, surgery, level=2, aid="key", totals=totals)
        check_invariants(b)
        return b.hifp_pay, b.hifmi_pay, b.maf_pay, b.psn_cash_pay

    totals: dict[str, D] = {}
    # Bill 1: CI base 0 → 7,687.50: F = (7,687.50 − 6,000) × 55% = 928.125 → 928.13.
    #   Assistance (7,687.50 − 928.13) × 70% = 6,759.37 × 70% = 4,731.559 → 4,731.56.
    #   Patient 6,759.37 − 4,731.56 = 2,027.81 (bottom line: 2,027.81 < 5,000 → 0).
    b1 = settle(P2020, surgery, level=2, aid="key", totals=totals)
    assert bill(totals) == (D("22312.50"), D("928.13"), D("4731.56"), D("2027.81"))
    totals = apply_deltas(totals, b1.deltas)
    # Bill 2: CI base 7,687.50 → 15,375: F = 9,375 × 55% = 5,156.25; pays 5,156.25 − 928.13
    #   = 4,228.12. Assistance (7,687.50 − 4,228.12) × 70% = 3,459.38 × 70% = 2,421.566
    #   → 2,421.57. Patient 3,459.38 − 2,421.57 = 1,037.81.
    b2 = settle(P2020, surgery, level=2, aid="key", totals=totals)
    assert bill(totals) == (D("22312.50"), D("4228.12"), D("2421.57"), D("1037.81"))
    totals = apply_deltas(totals, b2.deltas)
    # Revoke bill 1: the year keeps bill 2 only — base 7,687.50, CI paid 4,228.12, but
    # F(7,687.50) = 928.13: 4,228.12 − 928.13 = 3,299.99 paid ahead, to be absorbed.
    totals = apply_deltas(totals, b1.deltas, -1)
    assert totals["390200.base"] == D("7687.50")
    assert totals["390200"] == D("4228.12")
    assert to_be_absorbed(P2020, aid_class="key", totals=totals) == {"390200": D("3299.99")}
    # Bill 3: base 7,687.50 → 15,375; target F(15,375) = 5,156.25 less paid 4,228.12 = 928.13
    #   (F(after) − F(before) would pay 4,228.12 again: 8,456.24 on a base of 15,375).
    #   Assistance (7,687.50 − 928.13) × 70% = 4,731.56; patient 2,027.81 — bill 1's split.
    b3 = settle(P2020, surgery, level=2, aid="key", totals=totals)
    check_invariants(b3)
    assert (b3.hifmi_pay, b3.maf_pay, b3.psn_cash_pay) == (
        D("928.13"),
        D("4731.56"),
        D("2027.81"),
    )
    assert "年度应付5156.25元，已付4228.12元" in b3.setldetail[1].setl_proc_info
    assert (b3.trace[2]["target"], b3.trace[2]["paid_before"]) == ("5156.25", "4228.12")
    totals = apply_deltas(totals, b3.deltas)
    # The year is as if bill 1 had never existed: Σ paid = F(Σ base) = 5,156.25.
    assert totals["390200"] == D("4228.12") + D("928.13") == D("5156.25")
    assert to_be_absorbed(P2020, aid_class="key", totals=totals) == {}


def test_an_overpayment_is_absorbed_by_later_bills() -> None:
    # Class none, policy 2017, basic exhausted (so the CI base is the in-scope amount);
    # threshold 12,000, first band 50%. Bill 1: 10,000 (below the threshold, pays 0).
    # Bill 2: 10,000 → base 20,000, F = 8,000 × 50% = 4,000. Revoke bill 1: base 10,000,
    # paid 4,000, F(10,000) = 0 → 4,000 to be absorbed.
    totals = {"390100.inpatient": D("200000.00")}
    b1 = settle(P2017, [item("A", "10000.00")], totals=totals)
    totals = apply_deltas(totals, b1.deltas)
    b2 = settle(P2017, [item("A", "10000.00")], totals=totals)
    assert b2.hifmi_pay == D("4000.00")
    totals = apply_deltas(apply_deltas(totals, b2.deltas), b1.deltas, -1)
    assert to_be_absorbed(P2017, aid_class="none", totals=totals) == {"390200": D("4000.00")}
    # Bill 3: 6,000 → base 16,000, F = 2,000 < paid 4,000: the fund pays nothing and 2,000
    # is still to be absorbed.
    b3 = settle(P2017, [item("A", "6000.00")], totals=totals)
    check_invariants(b3)
    assert row(b3, "390200") == (D("0.00"), D("396000.00"))  # 400,000 − 4,000 left
    assert "多付2000.00元由本年度后续结算抵扣" in b3.setldetail[1].setl_proc_info
    totals = apply_deltas(totals, b3.deltas)
    assert to_be_absorbed(P2017, aid_class="none", totals=totals) == {"390200": D("2000.00")}
    # Bill 4: 10,000 → base 26,000, F = 7,000; pays 7,000 − 4,000 = 3,000 (not 5,000).
    b4 = settle(P2017, [item("A", "10000.00")], totals=totals)
    assert b4.hifmi_pay == D("3000.00")
    totals = apply_deltas(totals, b4.deltas)
    assert totals["390200"] == D("7000.00")
    assert to_be_absorbed(P2017, aid_class="none", totals=totals) == {}


def test_bottom_line_above_threshold_with_nothing_new() -> None:
    # Policy 2020, key, outpatient: the year's in-scope cash is already 6,000 (above the 5,000
    # line, the excess paid). A bill whose in-scope amount is all paid before the bottom line
    # (A 100: basic 50, assistance 35, cash 15) moves the year to 6,015 and pays 15; a C item
    # alone adds nothing and the line says the year is above the threshold, paying 0.
    totals = {"640100.cash_base": D("6000.00"), "640100": D("1000.00")}
    bill = settle(P2020, [item("A", "100.00")], visit="outpatient", aid="key", totals=totals)
    assert row(bill, "640100") == (D("15.00"), None)
    bill = settle(P2020, [item("C", "100.00")], visit="outpatient", aid="key", totals=totals)
    assert row(bill, "640100") == (D("0.00"), None)
    assert (
        "6000.00→6000.00元，兜底线5000.00元，超出部分支付0.00元"
        in bill.setldetail[-1].setl_proc_info
    )


def test_cashier_line_names_the_bands_the_year_crossed() -> None:
    # Key, level 3, basic exhausted: A 300,000 is all critical-illness base; 294,000 above the
    # 6,000 threshold runs through all three bands: 55,000 + 65,000 + 94,000 × 75% = 190,500.
    totals = {"390100.inpatient": D("200000.00")}
    bill = settle(P2017, [item("A", "300000.00")], level=3, aid="key", totals=totals)
    assert bill.hifmi_pay == D("190500.00")
    assert bill.setldetail[1].setl_proc_info == (
        "大病保险（重点救助对象）：本次计入300000.00元，年度累计0.00→300000.00元，"
        "起付线6000.00元，超出部分按0.00–100000.00元段55%、100000.00–200000.00元段65%、"
        "200000.00元以上段75%，按累计计算本次支付190500.00元；"
        "年度封顶线500000.00元，本次前剩余500000.00元"
    )
    # A later bill of the same year only in the open band names only that band.
    later = settle(
        P2017, [item("A", "1000.00")], level=3, aid="key", totals=apply_deltas(totals, bill.deltas)
    )
    assert "超出部分按200000.00元以上段75%，" in later.setldetail[1].setl_proc_info
    assert "以上元段" not in later.setldetail[1].setl_proc_info
