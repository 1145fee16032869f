"""``medaid-registry`` commands on SQLite: migrate, import (dry run, refusal), seed-demo."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from registry.cli import app, demo_csv
from registry.imports.csvfile import parse_csv
from tests.registry.helpers import person_id, write_csv

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("REGISTRY_DATABASE_URL", url)
    return url


def test_migrate_import_and_seed(env, tmp_path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    rows = [("H1", "370305", person_id(51), "张三", "户主", "dibao", "2024-01-01", "")]
    path = write_csv(rows, tmp_path)

    dry = runner.invoke(app, ["import", path, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["persons"]["created"] == 1
    first = runner.invoke(app, ["import", path])
    assert json.loads(first.output)["changed"] is True
    again = runner.invoke(app, ["import", path])
    assert json.loads(again.output)["changed"] is False

    seeded = runner.invoke(app, ["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    assert json.loads(seeded.output)["changed"] is True
    again = runner.invoke(app, ["seed-demo"])
    assert again.exit_code == 0
    assert "already present" in again.output


def test_refused_file_exits_1_with_lines(env, tmp_path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    rows = [("H1", "370305", "370305198001010000", "张三", "户主", "dibao", "2024-01-01", "")]
    result = runner.invoke(app, ["import", write_csv(rows, tmp_path)])
    assert result.exit_code == 1
    assert "line 2 id_number" in result.output
    assert runner.invoke(app, ["import", str(tmp_path / "missing.csv")]).exit_code == 2


def test_demo_data_covers_every_case() -> None:
    parsed = parse_csv(demo_csv())
    assert parsed.errors == []
    categories = {row.category for row in parsed.rows}
    assert categories >= {
        "registered_poor",
        "dibao",
        "destitute",
        "low_income",
        "illness_poverty",
        "poor_disabled",
        None,  # a member with no status
    }
    assert any(r.category == "registered_poor" and r.effective_to for r in parsed.rows)
