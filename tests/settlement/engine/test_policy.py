"""Policy files: loading, validation errors that name the key, choosing a policy by date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from settlement.engine import (
    NoPolicyInForce,
    PolicyError,
    PolicySet,
    default_policy_dir,
    load_policy,
    load_policy_file,
    remaining_limits,
)

from .helpers import P2017, P2020, D, check_invariants, item, settle

SAMPLE = (default_policy_dir() / "2017.toml").read_text(encoding="utf-8")


def test_samples_ship_and_load() -> None:
    versions = [p.version for p in PolicySet.from_dir(default_policy_dir()).policies]
    assert versions == ["2017", "2020"]
    assert P2017.effective_from == date(2017, 1, 1)
    assert P2020.effective_from == date(2020, 1, 1)
    assert [f.kind for f in P2020.funds] == [
        "basic",
        "critical_illness",
        "medical_assistance",
        "bottom_line",
    ]
    assert P2017.deposit_free_classes == frozenset({"key"})
    assert (P2017.temporary_assistance_code, P2017.temporary_assistance_name) == (
        "610200",
        "临时救助",
    )
    assert load_policy_file(default_policy_dir() / "2020.toml").version == "2020"
    assert "SAMPLE" in SAMPLE


def test_aid_class_for() -> None:
    assert P2017.aid_class_for(["low_income", "dibao"]) == "key"
    assert P2017.aid_class_for(["illness_poverty"]) == "assisted"
    assert P2017.aid_class_for(["poor_disabled", "something_else"]) == "assisted"
    assert P2017.aid_class_for([]) == "none"
    assert P2017.aid_class_for(["unknown"]) == "none"
    for category in ("registered_poor", "dibao", "destitute"):
        assert P2017.aid_class_for([category]) == "key"


def test_for_date_picks_newest_in_force() -> None:
    policies = PolicySet.from_dir(default_policy_dir())
    assert policies.for_date(date(2017, 1, 1)).version == "2017"
    assert policies.for_date(date(2019, 12, 31)).version == "2017"
    assert policies.for_date(date(2020, 1, 1)).version == "2020"
    assert policies.for_date(date(2031, 6, 1)).version == "2020"
    with pytest.raises(NoPolicyInForce, match="2016-12-31"):
        policies.for_date(date(2016, 12, 31))


def bad(old: str, new: str) -> str:
    assert old in SAMPLE, old
    return SAMPLE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            bad(
                "ratio = { key = 0.70, assisted = 0.50 }", "ratio = { key = 1.70, assisted = 0.50 }"
            ),
            "funds[2].ratio.key: must be between 0 and 1",
        ),
        (
            bad("annual_cap = 300", "annual_cap = -300"),
            "funds[0].outpatient.annual_cap: must not be negative",
        ),
        (
            bad("annual_cap = 300", "annual_cap = 300.001"),
            "funds[0].outpatient.annual_cap: must have at most two decimals",
        ),
        (
            bad("annual_cap = 300", "annual_cap = 1e30"),
            "funds[0].outpatient.annual_cap: is too large",
        ),
        (
            bad("deductible = { 1 = 200, 2 = 500, 3 = 1000 }", "deductible = { 1 = 200, 2 = 500 }"),
            "funds[0].inpatient.deductible.3: missing",
        ),
        (bad('kind = "critical_illness"', 'kind = "lottery"'), "funds[1].kind: unknown fund kind"),
        (
            bad("[[funds.bands]]\nup_to = 200000", "[[funds.bands]]\nup_to = 50000"),
            "funds[1].bands[1].up_to: must be above the previous band's up_to",
        ),
        (
            bad('setlinfo_field = "maf_pay"', 'setlinfo_field = "cash"'),
            "funds[2].setlinfo_field: must be one of",
        ),
        (bad('code = "610100"', 'code = "390100"'), "funds[2].code: '390100' is already used"),
        (
            bad("threshold = { default = 12000, key = 6000 }", "threshold = { key = 6000 }"),
            "funds[1].threshold.assisted: missing",
        ),
        (
            bad("b_self_pay_ratio = 0.10", "b_self_pay_ratio = 0.10\nb_ratio = 0.2"),
            "scope.b_ratio: unknown key",
        ),
        (bad('version = "2017"\n', ""), "version: missing"),
        (
            bad("effective_from = 2017-01-01", 'effective_from = "soon"'),
            "effective_from: must be a date",
        ),
        (bad("hospital_levels = [1, 2, 3]", "hospital_levels = []"), "hospital_levels: must be"),
        (
            bad('assisted = ["low_income"', 'assisted = ["dibao", "low_income"'),
            "aid_classes.assisted: category 'dibao' is already in key",
        ),
        (
            bad('visit_types = ["inpatient"]', 'visit_types = ["daycare"]'),
            "funds[1].visit_types: unknown visit type",
        ),
        (bad("ratio = 0.50\n", "ratio = true\n"), "funds[0].outpatient.ratio: must be a number"),
        (
            bad("[temporary_assistance]\ncode", "[temporary_assistance]\nkode"),
            "temporary_assistance.code: missing",
        ),
        ("version = ", "not valid TOML"),
    ],
)
def test_policy_errors_name_the_key(text: str, key: str) -> None:
    with pytest.raises(PolicyError) as error:
        load_policy(text, source="test.toml")
    assert key in str(error.value)
    assert str(error.value).startswith("test.toml: ")


def test_policy_set_refuses_duplicates_and_empty_dirs(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policy files"):
        PolicySet.from_dir(tmp_path)
    (tmp_path / "a.toml").write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "b.toml").write_text(SAMPLE.replace("2017-01-01", "2018-01-01"), "utf-8")
    with pytest.raises(PolicyError, match="version '2017' is also defined"):
        PolicySet.from_dir(tmp_path)
    (tmp_path / "b.toml").write_text(SAMPLE.replace('"2017"', '"2017b"'), encoding="utf-8")
    with pytest.raises(PolicyError, match="effective_from"):
        PolicySet.from_dir(tmp_path)
    (tmp_path / "b.toml").write_text("version = [", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"b\.toml"):
        PolicySet.from_dir(tmp_path)


def without_fund(text: str, kind: str) -> str:
    """The policy text with the [[funds]] block of this kind removed."""
    head, *blocks = text.split("[[funds]]\n")
    kept = [b for b in blocks if not b.startswith(f'kind = "{kind}"')]
    assert len(kept) == len(blocks) - 1
    return "[[funds]]\n".join([head, *kept])


def test_removing_a_tier_just_works() -> None:
    # Without medical assistance, a key patient pays what is left after critical illness.
    policy = load_policy(without_fund(SAMPLE, "medical_assistance"))
    # Level 2, key: A 20,000: basic (20,000 − 250) × 75% = 14,812.50; patient 5,187.50.
    bill = settle(policy, [item("A", "20000.00")], level=2, aid="key")
    check_invariants(bill)
    assert bill.psn_cash_pay == D("5187.50")
    assert [d.fund_pay_type for d in bill.setldetail] == ["390100", "390200"]
    # Without basic insurance, critical illness works on the whole in-scope amount:
    # key, 10,000 → (10,000 − 6,000) × 55% = 2,200; assistance (7,800 × 70%) = 5,460.
    policy = load_policy(without_fund(SAMPLE, "basic"))
    bill = settle(policy, [item("A", "10000.00")], aid="key")
    assert (bill.hifp_pay, bill.hifmi_pay, bill.maf_pay, bill.psn_cash_pay) == (
        D("0.00"),
        D("2200.00"),
        D("5460.00"),
        D("2340.00"),
    )
    assert bill.act_pay_dedc == D("0.00")


def test_medical_assistance_out_of_scope_ratio() -> None:
    # A policy may let assistance cover part of the out-of-scope share too.
    text = SAMPLE.replace(
        "annual_limit = { key = 60000, assisted = 30000 }",
        "annual_limit = { key = 60000, assisted = 30000 }\n"
        "out_of_scope_ratio = { key = 0.50, default = 0 }",
    )
    policy = load_policy(text)
    # Level 1, key: A 150 + C 100. Basic 42.50; in scope left 107.50 → 75.25;
    # out of scope 100 × 50% = 50. Patient 32.25 + 50 = 82.25.
    bill = settle(policy, [item("A", "150.00"), item("C", "100.00")], aid="key")
    check_invariants(bill)
    assert bill.maf_pay == D("125.25")
    assert bill.psn_cash_pay == D("82.25")


def test_remaining_limits() -> None:
    totals = {"390100.inpatient": D("150000.00"), "390200": D("1000.00"), "610100": D("500.00")}
    limits = remaining_limits(P2020, aid_class="key", totals=totals)
    assert [
        (x.fund_pay_type, x.visit_type, x.paid_this_year, x.annual_limit, x.remaining)
        for x in limits
    ] == [
        ("390100", "inpatient", D("150000.00"), D("200000.00"), D("50000.00")),
        ("390100", "outpatient", D("0.00"), D("300.00"), D("300.00")),
        ("390200", None, D("1000.00"), D("500000.00"), D("499000.00")),
        ("610100", None, D("500.00"), D("60000.00"), D("59500.00")),
        ("640100", None, D("0.00"), None, None),
    ]
    none_limits = remaining_limits(P2020, aid_class="none", totals=totals)
    # Medical assistance does not serve class none, but it paid this person this year (the
    # class changed): its payments stay visible, with nothing more to pay (issue 11 part 5).
    assert [x.fund_pay_type for x in none_limits] == ["390100", "390100", "390200", "610100"]
    assert none_limits[2].remaining == D("399000.00")
    assert (none_limits[3].paid_this_year, none_limits[3].remaining) == (D("500.00"), D("0"))
