"""The rules file: the shipped sample loads; a bad file is refused with a message naming the
key, and stops the service's start-up like a bad policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from settlement.app import create_app
from settlement.cli import app as cli
from settlement.supervision.rules import (
    MonthlyRule,
    OutlierRule,
    QuantityRule,
    ReadmissionRule,
    RulesError,
    SameDayRule,
    default_rules_file,
    load_rules,
    load_rules_file,
)
from tests.settlement.conftest import settings_for

GOOD = """
version = "t"

[[rules]]
code = "R1"
kind = "readmission"
title = "再次住院"
severity = "high"
"""


def test_the_shipped_rules_load_with_the_issues_values() -> None:
    rules = load_rules_file(default_rules_file())
    kinds = {type(r) for r in rules.rules}
    assert kinds == {QuantityRule, ReadmissionRule, SameDayRule, OutlierRule, MonthlyRule}
    quantity = rules.by_code("QTY-STAY")
    assert isinstance(quantity, QuantityRule)
    assert quantity.matches("X", "普通床位费")
    assert quantity.matches("X", "Ⅱ级护理费")
    assert not quantity.matches("X", "营养餐")
    assert quantity.extra_days == 1
    readmission = rules.by_code("READMIT-15")
    assert isinstance(readmission, ReadmissionRule)
    assert (readmission.window_days, readmission.diagnosis_chars) == (15, 3)
    item = rules.outlier("item")
    assert item is not None
    assert item.window_days == 90
    assert {r.measure for r in rules.monthly()} == {"key_patients", "below_threshold"}
    assert all(r.action == "flag" for r in rules.rules)


def test_defaults() -> None:
    rule = load_rules(GOOD).rules[0]
    assert isinstance(rule, ReadmissionRule)
    assert (rule.window_days, rule.diagnosis_chars, rule.transfers) == (15, 3, False)
    assert (rule.action, rule.enabled) == ("flag", True)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("window_days = 0", "rules[0].window_days", "from 1 to 365"),
        ('window_days = "15"', "rules[0].window_days", "whole number"),
        ('colour = "red"', "rules[0].colour", "unknown key"),
        ('action = "block"', "rules[0].action", "flag, refuse"),
        ('enabled = "yes"', "rules[0].enabled", "true or false"),
        ("diagnosis_chars = 3.5", "rules[0].diagnosis_chars", "whole number"),
    ],
)
def test_a_bad_key_is_named(extra: str, key: str, words: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(GOOD + extra + "\n", source="rules.toml")
    assert caught.value.key == key
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"rules.toml: {key}: ")


def rule(**keys: str) -> str:
    """A rules file of one rule: ``code``, ``kind``, ``title``, ``severity`` and ``keys``
    (TOML values as written)."""
    values = {"code": '"R"', "kind": '"readmission"', "title": '"x"', "severity": '"low"'}
    values.update(keys)
    return 'version = "t"\n[[rules]]\n' + "".join(f"{k} = {v}\n" for k, v in values.items())


MONTHLY = {"kind": '"monthly_rise"', "max_rise": "0.1"}
BELOW = {**MONTHLY, "measure": '"below_threshold"'}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (rule(code='"r 1"'), "rules[0].code"),
        (rule(kind='"bogus"'), "rules[0].kind"),
        (rule(severity='"urgent"'), "rules[0].severity"),
        (rule(kind='"quantity_beyond_stay"'), "rules[0].name_patterns"),
        (rule(kind='"quantity_beyond_stay"', name_patterns='["床("]'), "rules[0].name_patterns[0]"),
        (rule(kind='"item_outlier"', multiple="1"), "rules[0].multiple"),
        (rule(**BELOW), "rules[0].thresholds"),
        (rule(**MONTHLY, measure='"key_patients"', action='"refuse"'), "rules[0].action"),
        (rule(**BELOW, thresholds="{2 = -5}"), "rules[0].thresholds.2"),
        (GOOD + GOOD.split("\n", 2)[2], "rules[1].code"),
        ('version = "t"\nrules = 3\n', "rules"),
        ("rules = []\n", "version"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_naming_the_key(text: str, key: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert caught.value.key == key


def test_two_enabled_outlier_rules_of_one_scope_are_refused() -> None:
    outlier = rule(kind='"item_outlier"', multiple="5")
    text = outlier.replace('"R"', '"A"') + outlier.split("\n", 1)[1].replace('"R"', '"B"')
    with pytest.raises(RulesError) as caught:
        load_rules(text)
    assert caught.value.key == "rules[1].kind"
    assert load_rules(text + "enabled = false\n").outlier("item") is not None


async def test_a_bad_rules_file_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text(GOOD + "window_days = 0\n", encoding="utf-8")
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'x.db'}", supervision_rules=bad))
    with pytest.raises(RulesError, match=r"rules.toml: rules\[0\].window_days"):
        async with app.router.lifespan_context(app):
            pass


def test_serve_refuses_a_bad_rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("not toml [", encoding="utf-8")
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    monkeypatch.setenv("SETTLEMENT_SUPERVISION_RULES", str(bad))
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "supervision rules error: rules.toml: not valid TOML" in result.output
