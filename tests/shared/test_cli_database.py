"""Both services' commands against a database that is missing or not migrated: one line on
standard error naming the database and ``migrate``, exit code 2, no traceback, and no SQLite
file or ``./var`` folder created where the command was run."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli import app as registry_cli
from settlement.cli import MIGRATIONS as SETTLEMENT_MIGRATIONS
from settlement.cli import app as settlement_cli
from shared.db import run_migrations
from shared.dbcheck import database_problem, describe
from tests.support.processes import executable, service_env

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]

SETTLEMENT_COMMANDS = [
    ["hospital", "add", "--code", "H1", "--name", "某某县人民医院", "--level", "2",
     "--region-code", "370305"],
    ["region", "add", "--code", "370305", "--name", "临淄区"],
    ["region", "list"],
    ["report", "--from", "2026-01-01", "--to", "2026-01-31", "--group-by", "fund"],
    ["reconcile", "--hospital", "H1", "--from", "2026-01-01", "--to", "2026-01-01", "{books}"],
    ["seed-demo"],
    ["serve", "--port", "1"],
]  # fmt: skip
REGISTRY_COMMANDS = [["import", "{books}"], ["seed-demo"], ["serve", "--port", "1"]]


def _invoke(service: str, args: list[str], books: Path) -> tuple[int, str]:
    cli = settlement_cli if service == "settlement" else registry_cli
    argv = [a.replace("{books}", str(books)) for a in args]
    result = CliRunner().invoke(cli, argv)
    return result.exit_code, result.output


@pytest.fixture
def bare_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder and the default database URLs (``./var/…``), dev settings."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("SETTLEMENT_DATABASE_URL", "REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    monkeypatch.setenv("REGISTRY_ENV", "dev")
    (tmp_path / "books.tsv").write_text("setl_id\tvisit_id\n")
    return folder


@pytest.mark.parametrize(
    ("service", "args"),
    [("settlement", a) for a in SETTLEMENT_COMMANDS] + [("registry", a) for a in REGISTRY_COMMANDS],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]),
)
def test_a_missing_database_is_one_line_and_exit_2(
    service: str, args: list[str], bare_folder: Path
) -> None:
    code, output = _invoke(service, args, bare_folder.parent / "books.tsv")
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "Traceback" not in output
    path = bare_folder / "var" / f"{service}.db"
    assert str(path) in lines[0]  # which database it opened, as a full path
    assert "does not exist" in lines[0]
    assert f"medaid-{service} migrate" in lines[0]
    assert not (bare_folder / "var").exists()  # nothing created in the working folder


def test_the_console_script_says_so_from_another_folder(tmp_path: Path) -> None:
    """As a newcomer meets it: the installed command, run from some other folder."""
    env = service_env({"SETTLEMENT_ENV": "dev"})
    result = subprocess.run(
        [executable("medaid-settlement"), "hospital", "add", "--code", "H1", "--name",
         "某某县人民医院", "--level", "2", "--region-code", "370305"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{tmp_path}/var/settlement.db" in result.stderr
    assert "run `medaid-settlement migrate`" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_or_older_database_is_not_migrated(
    backend: str, database_factory: Callable[[str, str], str], tmp_path: Path
) -> None:
    url = database_factory(backend, "unmigrated")
    if backend == "sqlite":
        Path(url.removeprefix("sqlite:///")).touch()  # an empty file is not a schema
    problem = database_problem(url, SETTLEMENT_MIGRATIONS)
    assert problem is not None
    assert "not migrated" in problem
    run_migrations(SETTLEMENT_MIGRATIONS, url, "0002")
    older = database_problem(url, SETTLEMENT_MIGRATIONS)
    assert older is not None
    assert "older" in older
    assert "0002" in older
    run_migrations(SETTLEMENT_MIGRATIONS, url)
    assert database_problem(url, SETTLEMENT_MIGRATIONS) is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_commands_run_once_migrated(
    backend: str,
    database_factory: Callable[[str, str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = database_factory(backend, "migrated_cli")
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", url)
    monkeypatch.setenv("SETTLEMENT_ENV", "dev")
    refused = CliRunner().invoke(settlement_cli, ["region", "list"])
    assert refused.exit_code == 2
    assert ("does not exist" if backend == "sqlite" else "not migrated") in refused.output
    assert describe(url) in refused.output
    assert CliRunner().invoke(settlement_cli, ["migrate"]).exit_code == 0
    listed = CliRunner().invoke(settlement_cli, ["region", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output == "code,name\n"


def test_the_database_is_named_without_its_password() -> None:
    shown = describe("postgresql://medaid:s3cret@db.example:5432/settlement")
    assert "s3cret" not in shown
    assert "db.example:5432/settlement" in shown
