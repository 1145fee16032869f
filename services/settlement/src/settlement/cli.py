"""``medaid-settlement``: migrate the database, serve the API, register hospitals and regions,
reconcile and report.

Every command but ``migrate`` needs a migrated database: run against one that is missing (a
SQLite file that does not exist is never created) or not migrated, it prints one line naming
the database and what to run, and exits 2."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from settlement.config import Settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from pydantic import BaseModel

    from settlement.audit.schemas import VerifyReport
    from settlement.catalogue.service import CatalogueService
    from settlement.regions.schemas import RegionIn, RegionList, RegionsChanged

MIGRATIONS = Path(__file__).parent / "migrations"

app = typer.Typer(
    help="medaid settlement service: one-stop settlement of hospital bills.",
    no_args_is_help=True,
    add_completion=False,
)
hospital_app = typer.Typer(help="Designated hospitals.", no_args_is_help=True)
app.add_typer(hospital_app, name="hospital")
region_app = typer.Typer(
    help="Names of the administrative divisions (行政区划) reports group by.",
    no_args_is_help=True,
)
app.add_typer(region_app, name="region")
catalogue_app = typer.Typer(
    help="The insurer's catalogue (医保目录) and hospitals' code mappings (目录对照).",
    no_args_is_help=True,
)
app.add_typer(catalogue_app, name="catalogue")
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            print(f"configuration error: {where}: {message}", file=sys.stderr)
        raise typer.Exit(2) from None


def _require_migrated(settings: Settings, *, unreachable_ok: bool = False) -> None:
    """Exit 2 with one line when the database is missing or not migrated (and when it cannot
    be reached, unless ``unreachable_ok``)."""
    from shared.dbcheck import migration_refusal

    line = migration_refusal(
        "settlement", settings.database_url, MIGRATIONS, unreachable_ok=unreachable_ok
    )
    if line is not None:
        print(line, file=sys.stderr)
        raise typer.Exit(2)


@app.command()
def migrate(
    months_ahead: Annotated[
        int,
        typer.Option(
            "--months-ahead",
            min=0,
            max=120,
            help="PostgreSQL: create the bills partitions through this many months past the "
            "current one",
        ),
    ] = 3,
) -> None:
    """Upgrade the database to the latest schema (Alembic); on PostgreSQL, create the bills
    partitions of the current month and the next ``--months-ahead`` (and move any rows of
    theirs out of the DEFAULT partition)."""
    from datetime import datetime

    from settlement.bills.partitions import ensure_months
    from settlement.database import Database
    from shared.db import run_migrations

    settings = _settings()
    run_migrations(MIGRATIONS, settings.database_url)

    async def partitions() -> list[str]:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            return await ensure_months(db, datetime.now(settings.local_tz).date(), months_ahead)
        finally:
            await db.dispose()

    created = asyncio.run(partitions())
    if created:
        print(f"bills partitions created: {', '.join(created)}")
    print("settlement database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8002,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="SETTLEMENT_WORKERS",
            help="Worker processes [default: one per available CPU (cgroup quota included); "
            "1 on SQLite]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API from one or more worker processes on the port (scale further with more
    instances behind a load balancer).

    SIGTERM / Ctrl-C stop accepting connections and let running requests finish."""
    from settlement.app import create_app, load_policies, load_supervision_rules
    from settlement.engine import PolicyError
    from settlement.supervision.rules import RulesError
    from shared.observability import serve as serve_app
    from shared.workers import default_workers

    settings = _settings()
    try:
        load_policies(settings)  # refuse to start on a bad policy file, with a clear message
        load_supervision_rules(settings)  # and on a bad supervision rules file
    except RulesError as exc:
        print(f"supervision rules error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    except PolicyError as exc:
        print(f"policy error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    _require_migrated(settings, unreachable_ok=True)
    count = workers or default_workers(settings.database_url)
    serve_app(
        create_app(settings) if count == 1 else "settlement.app:create_app",
        factory=count > 1,
        workers=count,
        host=host,
        port=port,
        log_level=settings.log_level,
    )


@hospital_app.command("add")
def hospital_add(
    code: Annotated[str, typer.Option(help="Hospital code (定点医药机构编号)")],
    name: Annotated[str, typer.Option(help="Hospital name")],
    level: Annotated[int, typer.Option(help="Hospital grade: 1, 2 or 3")],
    region_code: Annotated[str, typer.Option("--region-code", help="6-digit region code")],
) -> None:
    """Register a hospital and print its API key (shown once; only a hash is stored)."""
    from settlement.database import Database
    from settlement.hospitals.schemas import HospitalCreate
    from settlement.hospitals.service import create_hospital
    from shared.errors import Problem

    settings = _settings()
    try:
        data = HospitalCreate.model_validate(
            {"code": code, "name": name, "level": level, "region_code": region_code}
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            print(f"--{field.replace('_', '-')}: {error['msg']}", file=sys.stderr)
        raise typer.Exit(2) from None
    _require_migrated(settings)

    async def run() -> str:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            created = await create_hospital(db, data, actor="cli", request_id=None)
        finally:
            await db.dispose()
        return created.api_key

    try:
        api_key = asyncio.run(run())
    except Problem as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(f"hospital {data.code} registered; its API key (shown only now):")
    print(api_key)


@app.command()
def reconcile(
    hospital: Annotated[str, typer.Option(help="Hospital code (定点医药机构编号)")],
    begin: Annotated[str, typer.Option("--from", help="First settlement date, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last settlement date, YYYY-MM-DD")],
    file: Annotated[
        Path, typer.Argument(help="The hospital's bills: tab-separated with a header row, or JSON")
    ],
) -> None:
    """Reconcile a hospital's bills of a period (like 3202) and store the result; prints the
    counts per result code and the mismatches. Exit code 0: matched; 1: mismatches."""
    from datetime import date

    from settlement.reconciliation.batch import reconcile_file

    settings = _settings()
    try:
        first, last = date.fromisoformat(begin), date.fromisoformat(end)
    except ValueError:
        print("error: --from and --to are dates written YYYY-MM-DD", file=sys.stderr)
        raise typer.Exit(2) from None
    if not file.is_file():
        print(f"error: {file} is not a readable file", file=sys.stderr)
        raise typer.Exit(2)
    _require_migrated(settings)
    raise typer.Exit(reconcile_file(settings, hospital, first, last, file))


@app.command()
def report(
    begin: Annotated[str, typer.Option("--from", help="First settlement date, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last settlement date, YYYY-MM-DD")],
    group_by: Annotated[
        str, typer.Option("--group-by", help="hospital, fund, aid_class, region or day")
    ],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV (UTF-8 with BOM) instead of JSON")
    ] = False,
) -> None:
    """Print the fund report of a period (its bills and reversals, net) as JSON or CSV."""
    from datetime import date

    from settlement.reports.batch import print_report
    from settlement.reports.schemas import GROUP_BYS

    settings = _settings()
    try:
        first, last = date.fromisoformat(begin), date.fromisoformat(end)
    except ValueError:
        print("error: --from and --to are dates written YYYY-MM-DD", file=sys.stderr)
        raise typer.Exit(2) from None
    if group_by not in GROUP_BYS:
        print(f"error: --group-by must be one of {', '.join(GROUP_BYS)}", file=sys.stderr)
        raise typer.Exit(2)
    _require_migrated(settings)
    raise typer.Exit(print_report(settings, first, last, group_by, as_csv=as_csv))


@app.command("seed-demo")
def seed_demo() -> None:
    """Register the demo hospitals with their published demo keys, name their region and load
    the sample catalogue with the demo hospitals' mappings (SETTLEMENT_ENV=dev only; safe to
    repeat: an existing demo hospital gets its demo key back, the catalogue is unchanged)."""
    from settlement.catalogue.service import CatalogueService, seed_demo_catalogue
    from settlement.database import Database
    from settlement.hospitals.service import DEMO_HOSPITALS, seed_demo_hospitals
    from settlement.regions.schemas import RegionIn
    from settlement.regions.service import DEMO_REGIONS, save_regions

    settings = _settings()
    if settings.env != "dev":
        print("seed-demo publishes well-known keys: only with SETTLEMENT_ENV=dev", file=sys.stderr)
        raise typer.Exit(2)
    _require_migrated(settings)

    async def run() -> list[str]:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            lines = await seed_demo_hospitals(db)
            regions = [RegionIn(code=code, name=name) for code, name in DEMO_REGIONS]
            await save_regions(db, regions, actor="seed-demo", request_id=None)
            lines += [f"region {code}: {name}" for code, name in DEMO_REGIONS]
            demo_codes = [code for code, *_ in DEMO_HOSPITALS]
            return lines + await seed_demo_catalogue(CatalogueService(db), demo_codes)
        finally:
            await db.dispose()

    for line in asyncio.run(run()):
        print(line)


def _save_regions(settings: Settings, regions: list[RegionIn]) -> None:
    from settlement.database import Database
    from settlement.regions.service import save_regions
    from shared.errors import Problem

    _require_migrated(settings)

    async def run() -> RegionsChanged:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            return await save_regions(db, regions, actor="cli", request_id=None)
        finally:
            await db.dispose()

    try:
        changed = asyncio.run(run())
    except Problem as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(
        f"regions: {changed.added} added, {changed.renamed} renamed, {changed.unchanged} unchanged"
    )


@region_app.command("add")
def region_add(
    code: Annotated[str, typer.Option(help="Region code (6 or 12 digits, 行政区划代码)")],
    name: Annotated[str, typer.Option(help="Its name, e.g. 临淄区")],
) -> None:
    """Name a region code (or rename it). Reports by region show the name."""
    from settlement.regions.schemas import RegionIn

    settings = _settings()
    try:
        region = RegionIn.model_validate({"code": code, "name": name})
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            print(f"--{field}: {error['msg']}", file=sys.stderr)
        raise typer.Exit(2) from None
    _save_regions(settings, [region])


@region_app.command("import")
def region_import(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8) with a header row: code,name")],
) -> None:
    """Name many regions from a CSV file, all or nothing (every bad line is reported)."""
    from settlement.regions.service import RegionFileError, parse_regions_csv

    settings = _settings()
    try:
        content = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {file} as UTF-8 text: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        regions = parse_regions_csv(content)
    except RegionFileError as exc:
        for line in exc.errors[:100]:
            print(f"{file}: {line}", file=sys.stderr)
        raise typer.Exit(2) from None
    _save_regions(settings, regions)


@region_app.command("list")
def region_list() -> None:
    """Print the named regions as CSV (code,name)."""
    from settlement.database import Database
    from settlement.regions.service import list_regions

    settings = _settings()
    _require_migrated(settings)

    async def run() -> RegionList:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            return await list_regions(db)
        finally:
            await db.dispose()

    print("code,name")
    for region in asyncio.run(run()).items:
        print(f"{region.code},{region.name}")


def _catalogue_file(
    file: Path,
    dry_run: bool,
    work: Callable[[CatalogueService, bytes], Awaitable[BaseModel]],
) -> None:
    """Run one catalogue or mapping import from a file and print its counts (JSON); every
    problem of a refused file on its own line (at most 100), exit 2."""
    from settlement.catalogue.service import CatalogueService, ImportRejected
    from settlement.database import Database
    from shared.errors import Problem

    settings = _settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {file}: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    _require_migrated(settings)

    async def run() -> BaseModel:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            return await work(CatalogueService(db), data)
        finally:
            await db.dispose()

    try:
        result = asyncio.run(run())
    except ImportRejected as exc:
        for error in exc.row_errors[:100]:
            where = f"line {error.row}" + (f": {error.column}" if error.column else "")
            print(f"{file}: {where}: {error.message}", file=sys.stderr)
        if len(exc.row_errors) > 100:
            print(f"{file}: … {len(exc.row_errors) - 100} more problems", file=sys.stderr)
        print(f"{file}: nothing imported ({len(exc.row_errors)} problems)", file=sys.stderr)
        raise typer.Exit(2) from None
    except Problem as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(result.model_dump_json(indent=2))
    if dry_run:
        print("dry run: nothing was written", file=sys.stderr)


@catalogue_app.command("import")
def catalogue_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (UTF-8): med_list_codg,med_list_name,chrgitm_lv,selfpay_prop,"
            "pric_uplmt_amt,begndate,enddate"
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; write nothing")] = False,
) -> None:
    """Import the insurer's catalogue, all or nothing (like POST /v1/catalogue/imports).
    Running servers use it within SETTLEMENT_CATALOGUE_CHECK_S seconds."""

    async def work(service: CatalogueService, data: bytes) -> BaseModel:
        return await service.import_catalogue(data, actor="cli", request_id=None, dry_run=dry_run)

    _catalogue_file(file, dry_run, work)


@catalogue_app.command("map")
def catalogue_map(
    hospital: Annotated[str, typer.Option(help="Hospital code (定点医药机构编号)")],
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8): medins_list_codg,med_list_codg")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; write nothing")] = False,
) -> None:
    """Map a hospital's own codes to national codes, all or nothing (like POST
    /v1/catalogue/mappings)."""

    async def work(service: CatalogueService, data: bytes) -> BaseModel:
        ref = await service.hospital(hospital)
        return await service.import_mapping(
            ref, data, actor="cli", request_id=None, dry_run=dry_run
        )

    _catalogue_file(file, dry_run, work)


@audit_app.command("verify")
def audit_verify(
    begin: Annotated[
        str | None, typer.Option("--from", help="First local date, YYYY-MM-DD (default: all)")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last local date, YYYY-MM-DD (default: all)")
    ] = None,
) -> None:
    """Recompute the audit chain and check every bill and reversal against the record that
    booked it. Prints what was checked and the first break; exit code 0: everything holds,
    1: a break was found, 2: bad arguments."""
    from datetime import date

    from settlement.audit.verify import verify
    from settlement.database import Database

    settings = _settings()
    try:
        first = date.fromisoformat(begin) if begin else None
        last = date.fromisoformat(end) if end else None
    except ValueError:
        print("error: --from and --to are dates written YYYY-MM-DD", file=sys.stderr)
        raise typer.Exit(2) from None
    if first is not None and last is not None and last < first:
        print("error: --to must not be before --from", file=sys.stderr)
        raise typer.Exit(2)
    _require_migrated(settings)

    async def run() -> VerifyReport:
        db = Database.from_url(settings.database_url, pool_size=1)
        try:
            return await verify(db, first, last, settings.local_tz)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    period = f"{first or 'the first record'} to {last or 'the last record'}"
    print(
        f"audit verify, {period}: {report.records_checked} records in "
        f"{report.chains_checked} chains, {report.bills_checked} bills and reversals checked"
    )
    if report.first_break is None:
        print("ok: every chain holds and every bill matches its record")
        return
    found = report.first_break
    print(f"BROKEN: {report.break_count} break(s); the first:", file=sys.stderr)
    print(
        f"  record {found.record_id} (chain {found.chain}, seq {found.seq}, "
        f"{found.at.isoformat() if found.at else '-'}): {found.kind}: {found.message}",
        file=sys.stderr,
    )
    raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
