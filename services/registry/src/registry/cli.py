"""``medaid-registry``: the commands ops teams use (migrate, serve, import, seed-demo).

Every command but ``migrate`` needs a migrated database: run against one that is missing (a
SQLite file that does not exist is never created) or not migrated, it prints one line naming
the database and what to run, and exits 2."""

from __future__ import annotations

import asyncio
import json
from importlib.resources import files
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from pydantic import ValidationError
from sqlalchemy import select

from registry.auth import Actor
from registry.config import InsecureSettings, Settings
from registry.database import MIGRATIONS, transaction
from registry.database import migrate as run_migrate
from registry.imports.csvfile import parse_csv
from registry.imports.schemas import ImportResult
from registry.imports.service import ImportRejected, import_csv
from registry.models import households
from shared.db import make_engine, make_sessionmaker

app = typer.Typer(
    help="medaid registry: households, persons and their poverty / assistance status.",
    no_args_is_help=True,
    add_completion=False,
)

DEMO_CSV = "demo.csv"


def demo_csv() -> bytes:
    """The demo households shipped with the package (``seed-demo``, ``make run``)."""
    return (files("registry") / "demo" / DEMO_CSV).read_bytes()


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"configuration error: REGISTRY_{where.upper()}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _require_migrated(settings: Settings, *, unreachable_ok: bool = False) -> None:
    """Exit 2 with one line when the database is missing or not migrated (and when it cannot
    be reached, unless ``unreachable_ok``)."""
    from shared.dbcheck import migration_refusal

    line = migration_refusal(
        "registry", settings.database_url, MIGRATIONS, unreachable_ok=unreachable_ok
    )
    if line is not None:
        typer.echo(line, err=True)
        raise typer.Exit(2)


@app.command()
def migrate() -> None:
    """Upgrade the database (REGISTRY_DATABASE_URL) to the latest schema."""
    settings = _settings()
    run_migrate(settings.database_url)
    typer.echo("registry database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8001,
    graceful_timeout: Annotated[
        int, typer.Option(help="Seconds to finish in-flight requests after SIGTERM")
    ] = 20,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="REGISTRY_WORKERS",
            help="Worker processes [default: one per available CPU (cgroup quota included); "
            "1 on SQLite]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API from one or more worker processes on the port (scale further with more
    instances behind a load balancer).

    SIGTERM / Ctrl-C: stop accepting connections, finish the requests in flight, exit."""
    from registry.app import check_settings, create_app
    from shared.observability import serve as serve_app
    from shared.workers import default_workers

    settings = _settings()
    count = workers or default_workers(settings.database_url)
    try:
        check_settings(settings)  # several workers: each builds its app from the factory
        application = create_app(settings) if count == 1 else "registry.app:create_app"
    except (InsecureSettings, ValueError) as exc:
        typer.echo(f"medaid-registry: {exc}", err=True)
        raise typer.Exit(2) from None
    _require_migrated(settings, unreachable_ok=True)
    serve_app(
        application,
        factory=count > 1,
        workers=count,
        host=host,
        port=port,
        log_level=settings.log_level,
        graceful_timeout_s=graceful_timeout,
    )


def _run_import(source: bytes | BinaryIO, *, dry_run: bool, actor: str) -> ImportResult:
    """Import a file's bytes, or an open file (read as a stream: its size does not matter)."""
    settings = _settings()

    async def go() -> ImportResult:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await import_csv(session, source, actor=Actor(actor), dry_run=dry_run)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _report(result: ImportResult) -> None:
    typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV file (UTF-8) from the poverty office")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only")] = False,
) -> None:
    """Import a CSV file: all or nothing, and importing it again changes nothing."""
    try:
        stream = file.open("rb")
    except OSError as exc:
        typer.echo(f"medaid-registry: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    try:
        _require_migrated(_settings())
        result = _run_import(stream, dry_run=dry_run, actor="cli")
    except ImportRejected as exc:
        typer.echo(f"{file}: {exc.detail}", err=True)
        for error in exc.row_errors[:200]:
            column = f" {error.column}" if error.column else ""
            typer.echo(f"  line {error.row}{column}: {error.message}", err=True)
        if exc.error_count > 200:
            typer.echo(f"  … and {exc.error_count - 200} more", err=True)
        raise typer.Exit(1) from None
    finally:
        stream.close()
    _report(result)


def _demo_present(data: bytes) -> bool:
    codes = sorted({row.household_code for row in parse_csv(data).rows})
    settings = _settings()

    async def go() -> bool:
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            async with engine.connect() as connection:
                found = await connection.execute(
                    select(households.c.id).where(households.c.household_code.in_(codes)).limit(1)
                )
                return found.first() is not None
        finally:
            await engine.dispose()

    return asyncio.run(go())


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo households (every category, an exited household). Does nothing when any
    demo household is already there, so it is safe to repeat even after demo edits."""
    data = demo_csv()
    _require_migrated(_settings())
    if _demo_present(data):
        typer.echo("demo households already present; nothing to do")
        return
    try:
        result = _run_import(data, dry_run=False, actor="seed-demo")
    except ImportRejected as exc:  # pragma: no cover - the shipped file is valid
        typer.echo(f"demo data refused: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    _report(result)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
