"""What the workflow handlers need from the worker: GitHub clients, bakeries, links, job kinds.

`build_services` makes the `services` mapping of the worker's JobContext; the helpers below
read it back, failing the job with a clear reason when something is not configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pangeo_forge_orchestrator.adapters.bakeries.base import Bakery, CompletionHook
from pangeo_forge_orchestrator.adapters.bakeries.registry import build_bakeries, load_bakeries
from pangeo_forge_orchestrator.adapters.github import (
    GitHubApp,
    GitHubClient,
    NotFound,
    RateLimited,
)
from pangeo_forge_orchestrator.core.bakeries import BakeryRegistry
from pangeo_forge_orchestrator.core.bakes import BakeHandle, BakeStatus
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, RetryLater
from pangeo_forge_orchestrator.settings import Settings

log = logging.getLogger(__name__)

# Job kinds of the workflows (one module each under jobs/).
DISPATCH_RUN = "dispatch_run"
COMPLETE_RUN = "complete_run"
EXPAND_META = "expand_meta"
CREATE_FEEDSTOCK = "create_feedstock"

BAKERIES_SERVICE = "bakeries"
ENVIRON_SERVICE = "environ"
NOT_A_JOB_CONTEXT = "the workflow handlers need the worker's JobContext, got {kind}"
GITHUB_NOT_CONFIGURED = "the GitHub App is not configured in this worker"
UNKNOWN_BAKERY = "bakery {name!r} is not configured here (known: {known})"
NO_INSTALLATION = "no installation of the GitHub App covers {repo}"
REPO_INSTALLATION = "/repos/{owner}/{repo}/installation"
RUNNER_UNUSABLE = "the bakeries cannot start pangeo-forge-runner; runs will not dispatch"


@dataclass(frozen=True)
class BakeryServices:
    """The configured bakeries: their validated configuration and their adapters by name."""

    registry: BakeryRegistry
    adapters: Mapping[str, Bakery] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.registry.bakeries)

    def adapter(self, name: str) -> Bakery:
        try:
            return self.adapters[name]
        except KeyError:
            known = ", ".join(sorted(self.adapters)) or "none"
            raise PermanentFailure(UNKNOWN_BAKERY.format(name=name, known=known)) from None


def worker_context(
    settings: Settings, database: Database, *, environ: Mapping[str, str]
) -> JobContext:
    """The worker's JobContext: the GitHub App when configured, the bakeries, the environment."""
    github = GitHubApp(settings) if settings.github_app_configured else None
    return JobContext(
        settings=settings,
        database=database,
        github=github,
        services=build_services(settings, database, environ=environ),
    )


def build_services(
    settings: Settings, database: Database, *, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The worker's services: the bakeries and the caller's environment.

    `environ` is handed over by the process entry point (Settings' layer); it reaches runner
    children only through core.runner_args' allow-lists. A bakeries file that does not load
    raises BakeriesConfigError: the worker must not start on it.
    """
    registry = load_bakeries(
        bakeries_file=settings.bakeries_file, data_dir=settings.data_dir, environ=environ
    )
    try:
        adapters = build_bakeries(
            registry,
            runner_command_line=settings.runner_command,
            environ=environ,
            data_dir=settings.data_dir,
            on_complete=enqueue_completion(database),
        )
    except ValueError as error:
        # The runner is not installed as configured: runs fail to dispatch, with this reason.
        log.warning(RUNNER_UNUSABLE, extra={"error": str(error)})
        adapters = {}
    # The `bakery` rows are synced by name when a run first needs one (jobs/effects.py), so
    # building a worker touches no table (a fresh database may not be migrated yet).
    return {
        BAKERIES_SERVICE: BakeryServices(registry=registry, adapters=adapters),
        ENVIRON_SERVICE: dict(environ),
    }


def enqueue_completion(database: Database) -> CompletionHook:
    """The local bakery's completion hook: a `complete_run` job per finished bake."""

    async def on_complete(handle: BakeHandle, status: BakeStatus) -> None:
        payload = completion_payload(handle.recipe_run_id, status)

        def store() -> None:
            with database.session() as session:
                queue.enqueue(
                    session,
                    kind=COMPLETE_RUN,
                    payload=payload,
                    dedupe_key=f"complete:{handle.recipe_run_id}:{status.state.value}",
                )

        await asyncio.to_thread(store)

    return on_complete


def completion_payload(recipe_run_id: int, status: BakeStatus) -> dict[str, Any]:
    return {
        "recipe_run_id": recipe_run_id,
        "state": status.state.value,
        "message": status.message,
        "failure_detail": status.failure_detail,
        "dataset_public_url": status.dataset_url,
    }


# -- reading the context ----------------------------------------------------------------------
def job_context(ctx: object) -> JobContext:
    if not isinstance(ctx, JobContext):
        raise PermanentFailure(NOT_A_JOB_CONTEXT.format(kind=type(ctx).__name__))
    return ctx


def github_app(ctx: JobContext) -> GitHubApp:
    if not isinstance(ctx.github, GitHubApp):
        raise PermanentFailure(GITHUB_NOT_CONFIGURED)
    return ctx.github


def bakery_services(ctx: JobContext) -> BakeryServices:
    services = ctx.service(BAKERIES_SERVICE)
    assert isinstance(services, BakeryServices)
    return services


def links_of(settings: Settings) -> Links:
    return Links(dashboard_url=settings.dashboard_url, public_url=settings.public_url)


async def installation_client(
    ctx: JobContext, repo: RepositoryRef, installation_id: int | None = None
) -> tuple[GitHubClient, int]:
    """A client acting as the installation that covers REPO, and that installation's id.

    The id comes from the job (the delivery named it), else from the installation table,
    else from GitHub (`GET /repos/{owner}/{repo}/installation`, as the App).
    """
    app = github_app(ctx)
    if installation_id is None:
        installation_id = await ctx.in_session(
            lambda session: db_runs.installation_of(session, repo.full_name)
        )
    if installation_id is None:
        try:
            data = await app.app_client().getitem(
                REPO_INSTALLATION, {"owner": repo.owner, "repo": repo.name}
            )
        except NotFound:
            raise PermanentFailure(NO_INSTALLATION.format(repo=repo.full_name)) from None
        installation_id = int(data["id"])
    return app.installation_client(installation_id), installation_id


@contextmanager
def rate_limits_as_retry() -> Iterator[None]:
    """A GitHub rate limit reschedules the job at the reset time; it never sleeps."""
    try:
        yield
    except RateLimited as limited:
        raise RetryLater(limited.reset_at, str(limited)) from limited
