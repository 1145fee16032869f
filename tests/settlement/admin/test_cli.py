"""``medaid-settlement reconcile`` and ``medaid-settlement report`` through typer's runner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from settlement.cli import app
from tests.settlement.admin.conftest import Hospital, Service, local_day, settings_env

COLUMNS = ["setl_id", "visit_id", "id_number", "medfee_sumamt", "fund_pay_sumamt", "status"]


@pytest.fixture
async def day_of_bills(svc: Service) -> tuple[Service, Hospital, list[dict[str, Any]]]:
    hospital = await svc.hospital()
    made = []
    for _ in range(3):
        patient = svc.patient("dibao")
        bill = await svc.settle(hospital, patient)
        bill["id_number"] = patient
        made.append(bill)
    return svc, hospital, made


def books(bills: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{c: str(b[c]) for c in COLUMNS} for b in bills]


def write_tsv(path: Path, rows: list[dict[str, str]]) -> Path:
    lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reconcile_command(
    day_of_bills: tuple[Service, Hospital, list[dict[str, Any]]], tmp_path: Path
) -> None:
    svc, hospital, bills = day_of_bills
    day = local_day(bills[0]).isoformat()
    env = settings_env(svc.url)
    runner = CliRunner()
    args = ["reconcile", "--hospital", hospital.code, "--from", day, "--to", day]

    agree = runner.invoke(app, [*args, str(write_tsv(tmp_path / "ok.tsv", books(bills)))], env=env)
    assert agree.exit_code == 0, agree.output
    assert "0 matched (对平): 3" in agree.stdout
    assert "stored: matched" in agree.stdout

    rows = books(bills)
    rows[0]["fund_pay_sumamt"] = "0.01"
    rows.pop()
    differ = runner.invoke(app, [*args, str(write_tsv(tmp_path / "bad.tsv", rows))], env=env)
    assert differ.exit_code == 1, differ.output
    assert "1 service only (中心多): 1" in differ.stdout
    assert "3 inconsistent (数据不一致): 1" in differ.stdout
    assert f"{bills[0]['setl_id']}\t3\t" in differ.stdout
    assert "fund_pay_sumamt: hospital 0.01" in differ.stdout
    assert f"{bills[2]['setl_id']}\t1\t" in differ.stdout

    as_json = tmp_path / "books.json"
    as_json.write_text(json.dumps({"bills": books(bills)}), encoding="utf-8")
    from_json = runner.invoke(app, [*args, str(as_json)], env=env)
    assert from_json.exit_code == 0, from_json.output

    broken = rows[:1]
    broken[0]["status"] = "paid"
    refused = runner.invoke(app, [*args, str(write_tsv(tmp_path / "x.tsv", broken))], env=env)
    assert refused.exit_code == 2
    assert "line 2" in refused.stderr

    unknown = runner.invoke(
        app,
        ["reconcile", "--hospital", "NOPE", "--from", day, "--to", day, str(tmp_path / "ok.tsv")],
        env=env,
    )
    assert unknown.exit_code == 2
    assert "hospital_code" in unknown.stderr or "NOPE" in unknown.stderr


def test_report_command(day_of_bills: tuple[Service, Hospital, list[dict[str, Any]]]) -> None:
    svc, hospital, bills = day_of_bills
    day = local_day(bills[0]).isoformat()
    env = settings_env(svc.url)
    runner = CliRunner()
    as_json = runner.invoke(
        app, ["report", "--from", day, "--to", day, "--group-by", "hospital"], env=env
    )
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    mine = next(r for r in report["rows"] if r["key"] == hospital.code)
    assert mine["bill_count"] == 3
    assert report["group_by"] == "hospital"

    as_csv = runner.invoke(
        app, ["report", "--from", day, "--to", day, "--group-by", "fund", "--csv"], env=env
    )
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout.removeprefix("\ufeff"))))
    assert rows[-1]["fund"] == "TOTAL"
    assert "390100" in {r["fund"] for r in rows}

    wrong = runner.invoke(
        app, ["report", "--from", day, "--to", day, "--group-by", "ward"], env=env
    )
    assert wrong.exit_code == 2
