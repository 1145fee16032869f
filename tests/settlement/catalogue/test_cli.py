"""``medaid-settlement catalogue import | map`` and ``seed-demo``'s sample catalogue (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from settlement.cli import app as cli

from .conftest import catalogue_csv, mapping_csv


def test_catalogue_import_and_map_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    hospital = ["hospital", "add", "--code", "H77", "--name", "县医院", "--level", "2"]
    assert runner.invoke(cli, [*hospital, "--region-code", "370305"]).exit_code == 0
    good = tmp_path / "catalogue.csv"
    good.write_bytes(
        catalogue_csv(
            [
                ("XA01", "某药", "02", "0.1", "", "2020-01-01", ""),
                ("XA02", "某检查", "01", "", "80.00", "2020-01-01", ""),
            ],
            bom=True,
        )
    )
    dry = runner.invoke(cli, ["catalogue", "import", "--dry-run", str(good)])
    assert dry.exit_code == 0, dry.output
    assert '"added": 2' in dry.output
    assert "nothing was written" in dry.output
    done = runner.invoke(cli, ["catalogue", "import", str(good)])
    assert done.exit_code == 0, done.output
    assert '"changed": true' in done.output
    again = runner.invoke(cli, ["catalogue", "import", str(good)])
    assert '"unchanged": 2' in again.output

    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        catalogue_csv(
            [
                ("XA03", "好", "01", "", "", "2020-01-01", ""),
                ("XA04", "", "07", "", "", "2020-01-01", ""),
                ("XA05", "坏日期", "01", "", "", "2020/01/01", ""),
            ]
        )
    )
    refused = runner.invoke(cli, ["catalogue", "import", str(bad)])
    assert refused.exit_code == 2
    assert f"{bad}: line 3: chrgitm_lv:" in refused.output
    assert f"{bad}: line 3: med_list_name: is required" in refused.output
    assert f"{bad}: line 4: begndate:" in refused.output
    assert "nothing imported (3 problems)" in refused.output

    mapping = tmp_path / "mapping.csv"
    mapping.write_bytes(mapping_csv([("OWN-1", "XA01"), ("OWN-2", "XA02")]))
    mapped = runner.invoke(cli, ["catalogue", "map", "--hospital", "H77", str(mapping)])
    assert mapped.exit_code == 0, mapped.output
    assert '"added": 2' in mapped.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_bytes(mapping_csv([("OWN-3", "NOT-LOADED")]))
    refused = runner.invoke(cli, ["catalogue", "map", "--hospital", "H77", str(unknown)])
    assert refused.exit_code == 2
    assert "line 2: med_list_codg: NOT-LOADED is not in the catalogue" in refused.output
    nobody = runner.invoke(cli, ["catalogue", "map", "--hospital", "H00", str(mapping)])
    assert nobody.exit_code == 1
    assert "H00" in nobody.output


def test_seed_demo_loads_the_sample_catalogue_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", f"sqlite:///{tmp_path}/demo.db")
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    first = runner.invoke(cli, ["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "catalogue: 90 rows, 90 versions added" in first.output
    assert "mapping of H370305001: 22 codes, 22 added" in first.output
    assert "mapping of H370305002: 12 codes, 12 added" in first.output
    second = runner.invoke(cli, ["seed-demo"])
    assert "catalogue: 90 rows, 0 versions added, 90 unchanged" in second.output
    assert "mapping of H370305001: 22 codes, 0 added, 22 unchanged" in second.output
