"""The README's walkthrough, run as a newcomer runs it: both services started the way `make run`
starts them (migrate, seed the demo data, serve), then every shell block the README marks with
``<!-- walkthrough -->`` pasted in order into one bash, with the test's ports in place of 8001
and 8002. Every call must succeed (curl fails on an HTTP error here), so the README cannot
drift from the API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.dev import services
from tests.support.processes import REPO_ROOT, ServiceProcess, executable, free_port, run_cli

pytestmark = pytest.mark.slow

README = REPO_ROOT / "README.md"
MARKER = "<!-- walkthrough -->"
BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```(?:sh|bash)\n(.*?)\n```", re.DOTALL)


def walkthrough_blocks(text: str) -> list[str]:
    return [match.group(1) for match in BLOCK.finditer(text)]


@dataclass
class Stack:
    ports: dict[str, int]
    settlement_url: str  # the settlement database (the README's CLI steps use it)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("readme-var")
    ports = {"registry": free_port(), "settlement": free_port()}
    started: list[ServiceProcess] = []
    try:
        for service in services(ports, var):
            for args in service.setup:
                run_cli(service.command, list(args), service.env)
            process = ServiceProcess.serve(
                service.command,
                service.env,
                port=service.port,
                log_path=var / f"{service.name}.log",
            )
            started.append(process.start(timeout=60))
        yield Stack(ports, f"sqlite:///{var / 'settlement.db'}")
    finally:
        for process in reversed(started):
            process.stop()


def test_the_walkthrough_is_marked() -> None:
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    text = "\n".join(blocks)
    for call in (
        "/v1/admissions",
        "/v1/settlements/preview",
        "/v1/settlements",
        "/v1/reconciliations/summary",
        "/v1/reconciliations/detail",
        "/v1/policies/simulate",
        "medaid-settlement hospital add",
    ):
        assert call in text, call


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_walkthrough_runs(stack: Stack, tmp_path: Path) -> None:
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    # A working folder that looks like the repository's (the README runs from there), so the
    # files it writes (bill.json, receipt.html, …) stay out of the repository.
    work = tmp_path / "work"
    work.mkdir()
    (work / "services").symlink_to(REPO_ROOT / "services")
    (work / ".venv").symlink_to(Path(executable("medaid-settlement")).parent.parent)
    script = ["set -euo pipefail"]
    for number, block in enumerate(blocks, start=1):
        script.append(f"echo '>>> block {number}'")
        script.append(block)
    text = "\n".join(script) + "\n"
    text = text.replace("127.0.0.1:8001", f"127.0.0.1:{stack.ports['registry']}")
    text = text.replace("127.0.0.1:8002", f"127.0.0.1:{stack.ports['settlement']}")
    # An HTTP error fails the run (the README shows plain `curl -s` for readability).
    text = re.sub(r"\bcurl -s\b", "curl -sS --fail-with-body", text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "SETTLEMENT_"))}
    env["SETTLEMENT_DATABASE_URL"] = stack.settlement_url  # the CLI steps' `make run` database
    result = subprocess.run(
        ["bash", "-c", text],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    reached = re.findall(r">>> block (\d+)", result.stdout)
    failed = reached[-1] if reached else "?"
    assert result.returncode == 0, f"README walkthrough block {failed} failed:\n{output[-4000:]}"
    assert len(reached) == len(blocks)

    settled = json.loads((work / "settled.json").read_text(encoding="utf-8"))
    assert settled["status"] == "settled"
    assert settled["patient"]["aid_class"] == "key"
    receipt = (work / "receipt.html").read_text(encoding="utf-8")
    assert "一站式结算单" in receipt
    assert "I21.9 急性心肌梗死" in receipt  # the diagnosis with its name
    # The receipt link, opened without a key, gives the same receipt.
    assert settled["receipt_url"].startswith(f"http://127.0.0.1:{stack.ports['settlement']}/")
    assert (work / "receipt-link.html").read_text(encoding="utf-8") == receipt
    for words in (
        '"deposit_free":true',  # admission
        '"status":"preview"',  # pre-settle
        '"admitted_on":"2026-03-20","discharged_on":"2026-03-20"',  # outpatient visit_date
        '"diagnoses_detail":[{"code":"I21.9","name":"急性心肌梗死"}',  # names in the answer
        f'"setl_id":"{settled["setl_id"]}"',  # query
        '"candidate_version":"2027-draft"',  # what-if
        '"name":"淄博市临淄区"',  # report by region, with the name
        '"status":"revoked"',  # revoke
        "hospital H001 registered",  # the command line
        '"dry_run":true,"changed":false',  # the catalogue import, checked only
        '"unchanged":90',  # the sample catalogue is loaded already
        # the line the hospital declared A is 丙类 in the catalogue
        '"source":"catalogue","declared_category":"A","chrgitm_lv":"03"',
    ):
        assert words in output.replace(": ", ":"), words
    # The reconciliation examples agree with the bill they reconcile: the summary's totals
    # and the detail's matching line are this bill's (the extra line is result 2).
    assert '"matched":true' in output.replace(": ", ":")
    assert re.search(r'"counts":\{"0":1,"1":0,"2":1,"3":0\}', output.replace(": ", ":"))
