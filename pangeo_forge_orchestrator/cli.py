"""The `pfo` command (also `python -m pangeo_forge_orchestrator`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
import typer
import uvicorn

from pangeo_forge_orchestrator.core.bakeries import BakeryRegistry
from pangeo_forge_orchestrator.core.repair import DEFAULT_STUCK_AFTER_HOURS
from pangeo_forge_orchestrator.db.engine import Database, database_url_for
from pangeo_forge_orchestrator.logs import configure_logging
from pangeo_forge_orchestrator.sandbox.commands import sandbox_app

if TYPE_CHECKING:
    from pangeo_forge_orchestrator.sandbox.mode import Sandbox
from pangeo_forge_orchestrator.settings import Settings

app = typer.Typer(
    name="pfo",
    help="pangeo-forge-orchestrator: the GitHub App backend of Pangeo Forge.",
    no_args_is_help=True,
    add_completion=False,
)
api_keys_app = typer.Typer(help="Admin API keys for the write routes.", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(sandbox_app, name="sandbox")

log = logging.getLogger("pangeo_forge_orchestrator.cli")


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_format)
    return settings


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The configured database, or the embedded one kept running for as long as we need it."""
    with database_url_for(settings) as url:
        database = Database.from_url(url)
        try:
            yield database
        finally:
            database.dispose()


def load_bakeries_or_exit(settings: Settings) -> BakeryRegistry:
    """The configured bakeries; an invalid file stops the command, naming each bad key."""
    from pangeo_forge_orchestrator.adapters.bakeries.registry import load_bakeries
    from pangeo_forge_orchestrator.core.bakeries import BakeriesConfigError

    try:
        return load_bakeries(
            bakeries_file=settings.bakeries_file, data_dir=settings.data_dir, environ=os.environ
        )
    except BakeriesConfigError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def sync_bakery_rows(database: Database, registry: BakeryRegistry) -> None:
    """Upsert the `bakery` rows by name; a database not migrated yet is left alone."""
    from pangeo_forge_orchestrator.db.bakeries import sync_bakeries

    try:
        with database.session() as session:
            sync_bakeries(session, registry)
    except sa.exc.ProgrammingError:
        log.warning("bakery table not synced: the database is not migrated (run `pfo migrate`)")


class _ServerWithoutSignals(uvicorn.Server):
    """uvicorn's server minus its signal handling.

    uvicorn re-raises SIGTERM after a graceful shutdown, which kills the process before the
    worker and the embedded database are cleaned up; `serve` handles the signals instead.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _install_stop_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _start_when_listening(server: uvicorn.Server, simulated: Sandbox) -> None:
    """Start the simulator's webhooks once the server accepts them, as GitHub would find it."""
    while not server.started and not server.should_exit:
        await asyncio.sleep(0.05)
    simulated.start()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Serve HTTP only (Procfile web)."),
    sandbox: bool | None = typer.Option(
        None,
        "--sandbox/--no-sandbox",
        help="Run a simulated GitHub in this process "
        "[default: when no GitHub App is configured and HOST is a loopback address].",
    ),
) -> None:
    """Serve the web app; unless --no-worker, run a worker in the same process."""
    from pangeo_forge_orchestrator.app import create_app
    from pangeo_forge_orchestrator.sandbox import mode as sandbox_mode
    from pangeo_forge_orchestrator.worker import Worker

    settings = load_settings()
    bakeries = load_bakeries_or_exit(settings)
    simulated = None
    if sandbox_mode.wanted(settings, host=host, requested=sandbox):
        simulated = sandbox_mode.start_sandbox(settings, host=host, port=port)
        settings = simulated.settings
    with open_database(settings) as database:
        sync_bakery_rows(database, bakeries)
        web = create_app(settings, database=database)
        if simulated is not None:
            simulated.mount(web)
        # Move everything built at start-up out of the collector's reach: full collections over
        # those ~150k objects paused every request for 108-135 ms (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        config = uvicorn.Config(
            web, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        server = _ServerWithoutSignals(config)

        async def main() -> None:
            stop = asyncio.Event()
            _install_stop_handlers(stop)
            tasks = [asyncio.create_task(server.serve())]
            job_worker = None
            if simulated is not None:
                tasks.append(asyncio.create_task(_start_when_listening(server, simulated)))
            if not no_worker:
                job_worker = Worker(settings=settings, database=database)
                tasks.append(asyncio.create_task(job_worker.run()))
            await stop.wait()
            server.should_exit = True
            if job_worker is not None:
                job_worker.request_stop()
            await asyncio.gather(*tasks)
            if simulated is not None:
                simulated.stop()

        log.info("serving", extra={"url": f"http://{host}:{port}", "worker": not no_worker})
        if simulated is not None:
            typer.echo(simulated.banner(), err=True)
        asyncio.run(main())


@app.command()
def worker() -> None:
    """Run a worker only (Procfile worker)."""
    from pangeo_forge_orchestrator.worker import Worker

    settings = load_settings()
    bakeries = load_bakeries_or_exit(settings)
    with open_database(settings) as database:
        sync_bakery_rows(database, bakeries)
        job_worker = Worker(settings=settings, database=database)

        async def main() -> None:
            _install_stop_handlers(job_worker.stopping)
            await job_worker.run()

        asyncio.run(main())


@app.command()
def demo(
    port: int = typer.Option(8000, help="Where the demo's service listens (127.0.0.1)."),
) -> None:
    """Run the whole story on this machine: a simulated GitHub, a real local bake.

    Exits 0 only if every step did what it should; the data stays under PFO_DATA_DIR.
    """
    import sys

    from pangeo_forge_orchestrator.sandbox.demo import run_demo

    settings = load_settings()
    if not run_demo(settings, port=port, out=sys.stdout):
        raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Apply the database migrations (alembic upgrade head)."""
    from pangeo_forge_orchestrator.core import repair as decisions
    from pangeo_forge_orchestrator.db import migrate as migrations
    from pangeo_forge_orchestrator.db import repair as queries

    settings = load_settings()
    logging.getLogger("alembic").setLevel(logging.INFO)  # say which revisions ran
    with database_url_for(settings) as url:
        migrations.upgrade(url)
        database = Database.from_url(url)
        try:
            with database.session() as session:
                report = queries.find_problems(
                    session,
                    stuck_after=decisions.stuck_after_hours(DEFAULT_STUCK_AFTER_HOURS),
                    now=datetime.now(UTC),
                )
        finally:
            database.dispose()
    typer.echo(f"database at migration {migrations.head_revision()}")
    hint = decisions.migrate_hint(report)
    if hint:
        typer.echo(hint)


@app.command()
def repair(
    apply: bool = typer.Option(False, "--apply", help="Settle stuck runs (completed, timed_out)."),
    stuck_after: float = typer.Option(
        DEFAULT_STUCK_AFTER_HOURS,
        "--stuck-after",
        metavar="HOURS",
        help="Age past which an in_progress run is stuck.",
    ),
) -> None:
    """Report runs the original service left inconsistent; with --apply, settle stuck runs."""
    from pangeo_forge_orchestrator.core import repair as decisions
    from pangeo_forge_orchestrator.db import repair as queries

    try:
        age = decisions.stuck_after_hours(stuck_after)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--stuck-after") from None
    settings = load_settings()
    now = datetime.now(UTC)
    with open_database(settings) as database:
        with database.session() as session:
            before = queries.find_problems(session, stuck_after=age, now=now)
        typer.echo("before:\n" + decisions.summary(before))
        if not apply:
            typer.echo(decisions.dry_run_line(before))
            return
        with database.session() as session:
            settlements = queries.settle_stuck_runs(session, stuck_after=age, now=now)
        typer.echo(decisions.applied_line(settlements))
        with database.session() as session:
            after = queries.find_problems(session, stuck_after=age, now=now)
        typer.echo("after:\n" + decisions.summary(after))


@app.command()
def seed() -> None:
    """Add a sample bakery and feedstocks (review apps' postdeploy); safe to run twice."""
    from pangeo_forge_orchestrator.db.seed import seed_sample_data

    settings = load_settings()
    with open_database(settings) as database, database.session() as session:
        added = seed_sample_data(session)
    typer.echo(f"seeded {added['bakeries']} bakery and {added['feedstocks']} feedstock row(s)")


@api_keys_app.command("create")
def create_api_key(name: str = typer.Argument(..., help="Who or what the key is for.")) -> None:
    """Create an admin key and print it once; only its hash is stored."""
    from pangeo_forge_orchestrator.db.api_keys import create_api_key as store_key

    settings = load_settings()
    with open_database(settings) as database, database.session() as session:
        key = store_key(session, name=name)
    typer.echo(key)


@api_keys_app.command("revoke")
def revoke_api_key(
    name: str = typer.Argument(..., help="Revoke every active key of NAME."),
) -> None:
    """Revoke the keys created for NAME."""
    from pangeo_forge_orchestrator.db.api_keys import revoke_api_keys

    settings = load_settings()
    with open_database(settings) as database, database.session() as session:
        revoked = revoke_api_keys(session, name=name)
    typer.echo(f"revoked {revoked} key(s) of {name!r}")
