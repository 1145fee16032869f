"""The ladder's policy keys: the 2023 sample, validation errors naming the key, the plan's
guards, programmes that fix a case price or adjust a tier."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from settlement.engine import (
    PolicyError,
    PolicySet,
    check_plan,
    default_policy_dir,
    ladder_policy_dir,
    load_policy,
    to_be_absorbed,
)
from settlement.engine.params import ChronicGroup, OutpatientChronicTier

from .helpers import (
    P2017,
    P2020,
    P2023,
    D,
    apply_deltas,
    check_invariants,
    codes,
    item,
    row,
    settle,
)

LADDER = (ladder_policy_dir() / "2023.toml").read_text(encoding="utf-8")
SAMPLE_2020 = (default_policy_dir() / "2020.toml").read_text(encoding="utf-8")


def changed(old: str, new: str, text: str = LADDER) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_2023_sample_ships_apart_from_the_default_samples(tmp_path: Path) -> None:
    assert [p.version for p in PolicySet.from_dir(default_policy_dir()).policies] == [
        "2017",
        "2020",
    ]
    assert [p.version for p in PolicySet.from_dir(ladder_policy_dir()).policies] == ["2023"]
    assert P2023.effective_from == date(2023, 1, 1)
    assert [f.kind for f in P2023.funds] == [
        "basic",
        "outpatient_chronic",
        "critical_illness",
        "supplementary",
        "graded_assistance",
        "secondary_assistance",
        "bottom_line",
        "disease_programme",
    ]
    assert [p.name for p in P2023.programmes] == [
        "光明工程",
        "大病专项救治（儿童）",
        "大病专项救治",
    ]
    # A deployment that copies it beside the earlier samples settles 2026 bills under it.
    for source in (default_policy_dir() / "2017.toml", default_policy_dir() / "2020.toml"):
        (tmp_path / source.name).write_text(source.read_text("utf-8"), "utf-8")
    (tmp_path / "2023.toml").write_text(LADDER, "utf-8")
    deployment = PolicySet.from_dir(tmp_path)
    assert deployment.for_date(date(2022, 12, 31)).version == "2020"
    assert deployment.for_date(date(2026, 3, 12)).version == "2023"
    # The samples keep the plan's numbers.
    for policy in (P2017, P2020, P2023):
        check_plan(policy)
        assert policy.plan_breaches == ()


def test_the_2023_sample_is_the_2020_policy_plus_the_ladder() -> None:
    # Without diagnoses, for an ordinary insured person (class none), 2023 pays as 2020 did.
    items = [item("A", "30000.00"), item("B", "5000.00"), item("C", "300.00")]
    for level in (1, 2, 3):
        old = settle(P2020, items, level=level)
        new = settle(P2023, items, level=level)
        assert old.as_setlinfo() == new.as_setlinfo()
        assert codes(old) == codes(new) == ["390100", "390200"]
    # The chronic groups as read.
    chronic = P2023.funds[1]
    assert isinstance(chronic, OutpatientChronicTier)
    dialysis = chronic.groups[0]
    assert isinstance(dialysis, ChronicGroup)
    assert (dialysis.id, dialysis.prefixes, dialysis.key, dialysis.deductible_key) == (
        "dialysis",
        ("N185", "Z49"),
        "390101.dialysis",
        "390101.dialysis.dedc",
    )
    assert (dialysis.deductible["none"], dialysis.deductible["key"]) == (D("500"), D("0"))
    assert dialysis.critical_illness is True
    assert chronic.groups[2].critical_illness is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            changed('visit_types = ["outpatient"]\n\n[[funds.diseases]]', "\n[[funds.diseases]]"),
            'funds[1].visit_types: must be ["outpatient"]',
        ),
        (
            changed('diagnoses = ["N18.5", "Z49"]', 'diagnoses = ["N18.5", "dialysis"]'),
            "funds[1].diseases[0].diagnoses: 'dialysis' is not an ICD-10 code prefix",
        ),
        (
            changed('diagnoses = ["N18.5", "Z49"]', "diagnoses = []"),
            "funds[1].diseases[0].diagnoses: must list at least one",
        ),
        (
            changed('id = "cancer"', 'id = "dialysis"'),
            "funds[1].diseases[1].id: 'dialysis' is already the id of another group",
        ),
        (
            changed('id = "cancer"', 'id = "can cer"'),
            "funds[1].diseases[1].id: must contain only letters",
        ),
        (
            changed("critical_illness = true        #", 'critical_illness = "yes"        #'),
            "funds[1].diseases[0].critical_illness: must be true or false",
        ),
        (
            changed("ratio = 0.90\n", "ratio = 0.90\ncap = 1\n"),
            "funds[1].diseases[0].cap: unknown key",
        ),
        (
            changed("ratio = { 1 = 0.60, 2 = 0.55, 3 = 0.50 }", "ratio = { 1 = 0.60, 2 = 0.55 }"),
            "funds[1].diseases[2].ratio.3: missing",
        ),
        (
            changed("ratio = 0.50\nannual_cap = 50000", "ratio = 1.50\nannual_cap = 50000"),
            "funds[3].ratio: must be between 0 and 1",
        ),
        (
            changed("threshold = 3000\nratio = 0.70", "threshold = -1\nratio = 0.70"),
            "funds[5].threshold: must not be negative",
        ),
        (
            changed("threshold = { key = 0, assisted = 1000 }", "threshold = { key = 0 }"),
            "funds[4].threshold.assisted: missing",
        ),
        (
            changed('fund = "610400"', 'fund = "610100"'),
            "programmes[0].fund: '610100' is not the code of a disease_programme fund",
        ),
        (
            changed("patient_share_max = 0\n", "patient_share_max = 0\ncase_price = 3000\n"),
            "programmes[0].case_price: give either patient_share_max or case_price",
        ),
        (
            changed("patient_share_max = 0\n", "case_price = 3000\n"),
            "programmes[0].case_patient_share: missing",
        ),
        (
            changed("age_under = 15", "age_under = 15\nage_at_least = 15"),
            "programmes[1].age_under: must be above age_at_least",
        ),
        (
            changed("age_under = 15", 'age_under = "15"'),
            "programmes[1].age_under: must be a whole number of years",
        ),
        (
            changed('diagnoses = ["H25", "H26"]', 'diagnoses = ["H25", "H2"]'),
            "programmes[0].diagnoses: 'H2' is not an ICD-10 code prefix",
        ),
        (
            changed(
                'aid_classes = ["key", "assisted"]\npatient_share_max = 0',
                'aid_classes = ["poor"]\npatient_share_max = 0',
            ),
            "programmes[0].aid_classes: unknown value 'poor'",
        ),
        (
            changed("patient_share_max = 0\n", "patient_share_max = 0\nadjust = 1\n"),
            "programmes[0].adjust: must be a table",
        ),
        (
            changed("patient_share_max = 0\n", "patient_share_max = 0\nadjust.999999.ratio = 1\n"),
            "programmes[0].adjust.999999: no fund of the policy has this code",
        ),
        (
            changed("patient_share_max = 0\n", "patient_share_max = 0\nadjust.390101.ratio = 1\n"),
            "programmes[0].adjust.390101: a fund of kind outpatient_chronic cannot be adjusted",
        ),
        (
            changed("patient_share_max = 0\n", "patient_share_max = 0\nadjust.390200.ratio = 1\n"),
            "programmes[0].adjust.390200: must set at least one of threshold",
        ),
        (
            changed(
                "patient_share_max = 0\n",
                "patient_share_max = 0\nadjust.390100 = { ratio = 1, deductible = 0, x = 1 }\n",
            ),
            "programmes[0].adjust.390100.x: unknown key",
        ),
        (
            changed('patient_share_max = 0\nfund = "610400"\n', ""),
            "programmes[0]: does nothing",
        ),
        (
            changed('patient_share_max = 0\nfund = "610400"\n', 'fund = "610400"\n'),
            "programmes[0].fund: set patient_share_max or case_price",
        ),
        (
            LADDER.split("[[programmes]]")[0],
            "funds[7].code: no [[programmes]] entry names this fund",
        ),
    ],
)
def test_ladder_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy(text, source="2023.toml")
    assert f"2023.toml: {message}" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "key", "plan"),
    [
        (
            changed(
                "annual_cap = { default = 400000, key = 500000 }",
                "annual_cap = { default = 400000, key = 400000 }",
            ),
            "funds[2].annual_cap.key",
            "critical-illness cap of 500,000 yuan",
        ),
        (
            changed("annual_cap = { default = 400000, key = 500000 }", "annual_cap = 450000"),
            "funds[2].annual_cap",
            "critical-illness cap of 500,000 yuan",
        ),
        (
            changed("ratio = { key = 0.75, assisted = 0.65 }", "ratio = { default = 0.6 }"),
            "funds[4].bands[1].ratio.default",
            "medical-assistance ratio of 0.70",
        ),
        (
            changed("threshold = 3000\nratio = 0.70", "threshold = 3000\nratio = 0.69"),
            "funds[5].ratio",
            "secondary-assistance ratio of 0.70",
        ),
        (
            changed(
                "ratio = { key = 0.70, assisted = 0.50 }",
                "ratio = { key = 0.65, assisted = 0.50 }",
                SAMPLE_2020,
            ),
            "funds[2].ratio.key",
            "medical-assistance ratio of 0.70",
        ),
        (
            changed(
                "patient_share_max = 0\n",
                "patient_share_max = 0\nadjust.610300.ratio = { key = 0.5 }\n",
            ),
            "programmes[0].adjust.610300.ratio.key",
            "secondary-assistance ratio of 0.70",
        ),
    ],
)
def test_the_plan_s_numbers_are_guarded(text: str, key: str, plan: str) -> None:
    policy = load_policy(text, source="p.toml")  # readable (a test may compute with it) ...
    with pytest.raises(PolicyError) as refused:  # ... but refused by a deployment
        PolicySet((policy,))
    assert refused.value.key == key
    assert f"p.toml: {key}: " in str(refused.value)
    assert plan in str(refused.value)
    assert "key assistance groups" in str(refused.value)


def test_a_guarded_policy_stops_from_dir(tmp_path: Path) -> None:
    text = changed("threshold = 3000\nratio = 0.70", "threshold = 3000\nratio = 0.65")
    (tmp_path / "2023.toml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"2023\.toml: funds\[5\]\.ratio: 0\.65 is below"):
        PolicySet.from_dir(tmp_path)


CASE_PRICE = (
    LADDER
    + """
[[programmes]]
name = "白内障单病种定额"
diagnoses = ["H25"]
aid_classes = ["none"]
case_price = 3000
case_patient_share = 0.20
fund = "610400"
"""
)


@pytest.mark.parametrize(
    ("amount", "basic", "programme", "gap"),
    [
        # In scope 3,000 = the case price: basic (3,000 − 500) × 75 % = 1,875.00; the patient
        # pays 20 % of 3,000 = 600.00; the programme's fund the rest, 525.00: the funds pay
        # 2,400.00 = 80 % of the case price.
        ("3000.00", "1875.00", "525.00", ""),
        # 3,500 (500 above the case price): basic 2,250.00; patient still 600.00; fund 650.00.
        ("3500.00", "2250.00", "650.00", "（政策范围内费用超出定额500.00元）"),
        # 2,500 (below): basic 1,500.00; patient 600.00; fund 400.00.
        ("2500.00", "1500.00", "400.00", "（政策范围内费用低于定额500.00元）"),
    ],
)
def test_a_case_price(amount: str, basic: str, programme: str, gap: str) -> None:
    # 单病种定额: a cataract of an ordinary insured person (光明工程 is for key and assisted
    # classes, so the later case-price programme applies), level 2.
    policy = load_policy(CASE_PRICE)
    bill = settle(policy, [item("A", amount)], level=2, diagnoses=["H25.1"])
    check_invariants(bill)
    assert codes(bill) == ["390100", "390200", "610400"]
    assert row(bill, "390100")[0] == D(basic)
    assert row(bill, "390200")[0] == D("0.00")
    assert row(bill, "610400")[0] == D(programme)
    assert bill.psn_cash_pay == D("600.00")
    line = bill.setldetail[-1].setl_proc_info
    assert line.startswith(
        "专项救治·白内障单病种定额（普通参保人员）：政策范围内费用"
        f"{amount}元，单病种定额3000.00元，个人定额负担20%即600.00元{gap}"
    )


ADJUSTED = (
    LADDER
    + """
[[programmes]]
name = "白内障复明"
diagnoses = ["H25"]
aid_classes = ["none"]

[programmes.adjust.390100]
deductible = 0
ratio = { 1 = 0.95, 2 = 0.90, 3 = 0.85 }

[programmes.adjust.390200]
threshold = { none = 1000 }
"""
)


def test_a_programme_adjusts_tiers_for_its_visits() -> None:
    policy = load_policy(ADJUSTED)
    # Class none, level 2, A 20,000 with a cataract: basic with no deductible at 90 % =
    # 18,000.00, left 2,000.00; critical illness with the threshold 1,000: (2,000 − 1,000) ×
    # 50 % = 500.00. Patient 1,500.00. (Without the programme: basic (20,000 − 500) × 75 % =
    # 14,625.00 and no critical illness, patient 5,375.00.)
    bill = settle(policy, [item("A", "20000.00")], level=2, diagnoses=["H25.0"])
    check_invariants(bill)
    assert (bill.act_pay_dedc, bill.hifp_pay, bill.hifmi_pay, bill.psn_cash_pay) == (
        D("0.00"),
        D("18000.00"),
        D("500.00"),
        D("1500.00"),
    )
    assert bill.setldetail[0].setl_proc_info.endswith("（按白内障复明调整起付线、支付比例）")
    assert bill.setldetail[1].setl_proc_info.endswith("（按白内障复明调整起付线）")
    plain = settle(policy, [item("A", "20000.00")], level=2, diagnoses=["I21.9"])
    assert plain.psn_cash_pay == D("5375.00")
    assert "调整" not in plain.setldetail[0].setl_proc_info
    # A cumulative tier's threshold is adjusted for the programme's visits only: a later bill
    # of the year without the programme computes the year's target with the policy's
    # threshold (12,000). The year's base 2,000 + 4,875 = 6,875 owes nothing there, so what
    # the programme's visit got (500.00) stays paid and is absorbed by later bills.
    totals = apply_deltas({}, bill.deltas)
    later = settle(policy, [item("A", "19500.00")], level=2, totals=totals, diagnoses=["I21.9"])
    # basic (19,500 − 500) × 75 % = 14,250.00; left 5,250.00 → critical illness 0.00
    assert row(later, "390200")[0] == D("0.00")
    after = apply_deltas(totals, later.deltas)
    assert to_be_absorbed(policy, aid_class="none", totals=after) == {"390200": D("500.00")}
