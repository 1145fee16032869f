"""Region names (行政区划): added through the API or the command line (one, or a CSV file), shown
by the fund report grouped by region and on the admin page; a code without a name shows as the
code."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from settlement.cli import app as cli
from tests.settlement.admin.conftest import Service, admin_headers, settings_env


async def _region_report(svc: Service) -> dict[str, str]:
    today = date.today()
    response = await svc.client.get(
        "/v1/reports/funds",
        params={
            "from": (today - timedelta(days=30)).isoformat(),
            "to": (today + timedelta(days=1)).isoformat(),
            "group_by": "region",
        },
        headers=admin_headers(),
    )
    assert response.status_code == 200, response.text
    return {row["key"]: row["name"] for row in response.json()["rows"]}


async def test_report_by_region_shows_names_and_falls_back_to_the_code(svc: Service) -> None:
    named, unnamed = "440103", "440104"
    for region in (named, unnamed):
        hospital = await svc.hospital(region_code=region)
        await svc.settle(hospital, svc.patient("dibao"))
    before = await _region_report(svc)
    assert before[named] == named  # no name yet: the code
    saved = await svc.client.post(
        "/v1/regions",
        json={"regions": [{"code": named, "name": "广州市荔湾区"}]},
        headers=admin_headers(),
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"added": 1, "renamed": 0, "unchanged": 0}
    after = await _region_report(svc)
    assert after[named] == "广州市荔湾区"
    assert after[unnamed] == unnamed

    renamed = await svc.client.post(
        "/v1/regions",
        json={"regions": [{"code": named, "name": "荔湾区"}, {"code": "440105", "name": "海珠区"}]},
        headers=admin_headers(),
    )
    assert renamed.json() == {"added": 1, "renamed": 1, "unchanged": 0}
    assert (await _region_report(svc))[named] == "荔湾区"
    listed = await svc.client.get("/v1/regions", headers=admin_headers())
    names = {r["code"]: r["name"] for r in listed.json()["items"]}
    assert names[named] == "荔湾区"
    assert names["440105"] == "海珠区"


async def test_regions_are_the_admins_and_are_validated(svc: Service) -> None:
    hospital = await svc.hospital()
    forbidden = await svc.client.post(
        "/v1/regions",
        json={"regions": [{"code": "440199", "name": "x"}]},
        headers=hospital.headers(),
    )
    assert forbidden.status_code == 403
    assert (await svc.client.get("/v1/regions")).status_code == 401
    bad = await svc.client.post(
        "/v1/regions",
        json={"regions": [{"code": "4401", "name": "x"}, {"code": "440198", "name": ""}]},
        headers=admin_headers(),
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"regions[0].code", "regions[1].name"}
    twice = await svc.client.post(
        "/v1/regions",
        json={"regions": [{"code": "440197", "name": "a"}, {"code": "440197", "name": "b"}]},
        headers=admin_headers(),
    )
    assert twice.status_code == 422
    assert twice.json()["errors"][0]["field"] == "regions[1].code"
    listed = await svc.client.get("/v1/regions", headers=admin_headers())
    assert "440197" not in {r["code"] for r in listed.json()["items"]}  # all or nothing


def test_region_commands(svc: Service, tmp_path: Path) -> None:
    runner = CliRunner()
    env = settings_env(svc.url)
    added = runner.invoke(cli, ["region", "add", "--code", "440111", "--name", "白云区"], env=env)
    assert added.exit_code == 0, added.output
    assert "1 added" in added.output
    csv_file = tmp_path / "regions.csv"
    csv_file.write_text(
        "\ufeffcode,name,level\n440111,广州市白云区,county\n440112,黄埔区,county\n\n",
        encoding="utf-8",
    )
    imported = runner.invoke(cli, ["region", "import", str(csv_file)], env=env)
    assert imported.exit_code == 0, imported.output
    assert "1 added, 1 renamed" in imported.output
    listed = runner.invoke(cli, ["region", "list"], env=env)
    assert "440111,广州市白云区" in listed.output
    assert "440112,黄埔区" in listed.output

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\n44011,短\n440113,\n", encoding="utf-8")
    refused = runner.invoke(cli, ["region", "import", str(bad)], env=env)
    assert refused.exit_code == 2
    assert "line 2: code" in refused.output
    assert "line 3: name" in refused.output
    wrong_header = tmp_path / "header.csv"
    wrong_header.write_text("region,title\n440113,x\n", encoding="utf-8")
    refused = runner.invoke(cli, ["region", "import", str(wrong_header)], env=env)
    assert refused.exit_code == 2
    assert "code, name" in refused.output
    invalid = runner.invoke(cli, ["region", "add", "--code", "x", "--name", "y"], env=env)
    assert invalid.exit_code == 2
    assert "--code" in invalid.output
