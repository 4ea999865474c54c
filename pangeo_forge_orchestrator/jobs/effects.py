"""Apply the effects that `core` decides: GitHub effects through the installation's client,
this service's own effects (rows and jobs) to the database, each idempotently.

- A run and the job that follows it are written in one transaction (the outbox): a `/run`
  records its test run and enqueues the dispatch together, or neither.
- Runs are recorded once per (feedstock, sha, recipe, attempt) under an advisory lock, so
  concurrent redeliveries cannot record one twice.
- A GitHub id that a later step needs (a run's check run, its deployment) is stored on the run.
- A GitHub rate limit becomes `RetryLater` at its reset time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, assert_never

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.adapters.github import GitHubClient
from pangeo_forge_orchestrator.core.bakes import BakeHandle
from pangeo_forge_orchestrator.core.effects import (
    GITHUB_EFFECTS,
    SERVICE_EFFECTS,
    CancelRun,
    CreateCheckRun,
    CreateDeployment,
    CreateFeedstock,
    DispatchRun,
    Effect,
    ExpandMeta,
    GitHubEffect,
    QueueProductionRun,
    QueueTestRun,
    RecordFeedstock,
    ServiceEffect,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.runs import Cancel, Transition, transition
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.db.bakeries import sync_bakeries
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.cancel_bake import enqueue_cancel_bake
from pangeo_forge_orchestrator.jobs.github_effects import apply_github_effect
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure
from pangeo_forge_orchestrator.jobs.services import (
    BAKERIES_SERVICE,
    CREATE_FEEDSTOCK,
    DISPATCH_RUN,
    EXPAND_META,
    BakeryServices,
    links_of,
    rate_limits_as_retry,
)

log = logging.getLogger(__name__)

UNKNOWN_BAKERY = "bakery {name!r} of a recipe run is not configured"
# Feedstock creation talks to GitHub a few dozen times; allow more attempts than the default.
CREATE_FEEDSTOCK_ATTEMPTS = 10


@dataclass(kw_only=True)
class Applier:
    """Applies effects for one repository, as one installation."""

    ctx: JobContext
    github: GitHubClient
    installation_id: int
    repo: RepositoryRef

    async def apply_all(
        self, effects: Iterable[Effect], *, repo: RepositoryRef | None = None
    ) -> list[int | None]:
        return [await self.apply(effect, repo=repo) for effect in effects]

    async def apply(self, effect: Effect, *, repo: RepositoryRef | None = None) -> int | None:
        """Apply one effect; the id it made or found (check run, deployment, PR, run), if any."""
        with rate_limits_as_retry():
            if isinstance(effect, GITHUB_EFFECTS):
                return await self._github(effect, repo or self.repo)
            assert isinstance(effect, SERVICE_EFFECTS)
            return await self._service(effect)

    async def _github(self, effect: GitHubEffect, repo: RepositoryRef) -> int | None:
        result = await apply_github_effect(self.github, effect, repo)
        if result is None:
            return None
        if isinstance(effect, CreateCheckRun) and effect.recipe_run_id is not None:
            run_id, check_id = effect.recipe_run_id, result
            await self.ctx.in_session(lambda s: db_runs.set_check_run(s, run_id, check_id))
        elif isinstance(effect, CreateDeployment):
            await self._store_deployment(effect.recipe_run_id, result)
        return result

    async def _store_deployment(self, run_id: int, deployment_id: int) -> None:
        links = links_of(self.ctx.settings)

        def store(session: Session) -> None:
            found = db_runs.get_run(session, run_id)
            if found is None:
                return
            page = links.run_page(run_id=run_id, feedstock_id=found.run.feedstock_id)
            db_runs.set_deployment(session, run_id, deployment_id, environment_url=page)

        await self.ctx.in_session(store)

    async def _service(self, effect: ServiceEffect) -> int | None:
        installation_id = self.installation_id
        match effect:
            case RecordFeedstock(spec=spec):
                return await self.ctx.in_session(lambda s: db_runs.record_feedstock(s, spec))
            case QueueTestRun() | QueueProductionRun():
                bakeries = self._bakeries()
                return await self.ctx.in_session(
                    lambda s: queue_run(
                        s, effect, installation_id=installation_id, bakeries=bakeries
                    )
                )
            case DispatchRun():
                await self.ctx.in_session(
                    lambda s: request_dispatch(s, effect, installation_id=installation_id)
                )
                return None
            case CancelRun():
                await self._cancel(effect)
                return None
            case ExpandMeta():
                payload: dict[str, Any] = {
                    "feedstock_spec": effect.feedstock_spec,
                    "head_sha": effect.head_sha,
                    "feedstock_subdir": effect.feedstock_subdir,
                    "pr_number": effect.pr_number,
                    "for_production": effect.for_production,
                    "installation_id": installation_id,
                }
                await self.ctx.in_session(
                    lambda s: enqueue_once(
                        s, kind=EXPAND_META, payload=payload, dedupe_key=effect.dedupe_key
                    )
                )
                return None
            case CreateFeedstock():
                payload = {
                    "staged_recipes_spec": effect.staged_recipes_spec,
                    "recipe_name": effect.recipe_name,
                    "pr_number": effect.pr_number,
                    "merge_sha": effect.merge_sha,
                    "installation_id": installation_id,
                    "done": [],
                }
                await self.ctx.in_session(
                    lambda s: enqueue_once(
                        s,
                        kind=CREATE_FEEDSTOCK,
                        payload=payload,
                        dedupe_key=effect.dedupe_key,
                        max_attempts=CREATE_FEEDSTOCK_ATTEMPTS,
                    )
                )
                return None
            case _:
                assert_never(effect)

    def _bakeries(self) -> BakeryServices | None:
        services = self.ctx.services.get(BAKERIES_SERVICE)
        return services if isinstance(services, BakeryServices) else None

    async def _cancel(self, effect: CancelRun) -> None:
        """Complete the run `cancelled`; a `cancel_bake` job stops its bake, if submitted."""
        await self.ctx.in_session(lambda s: cancel_run(s, effect))


def queue_run(
    session: Session,
    effect: QueueTestRun | QueueProductionRun,
    *,
    installation_id: int,
    bakeries: BakeryServices | None,
) -> int | None:
    """Record a queued run unless this attempt is recorded; enqueue its dispatch when asked.

    A test run without `requested_by` waits for a maintainer's `/run`; a production run and a
    requested test run are dispatched at once, in this same transaction.
    """
    is_test = isinstance(effect, QueueTestRun)
    db_runs.lock_key(session, f"runs:{effect.feedstock_spec}:{effect.head_sha}:{effect.recipe_id}")
    feedstock_id = db_runs.record_feedstock(session, effect.feedstock_spec)
    attempts = [
        run
        for run in db_runs.runs_at(
            session, feedstock_spec=effect.feedstock_spec, head_sha=effect.head_sha, is_test=is_test
        )
        if run.recipe_id == effect.recipe_id
    ]
    after = effect.after_run_id if isinstance(effect, QueueTestRun) else None
    if any(after is None or run.id > after for run in attempts):
        return None
    run_id = db_runs.insert_run(
        session,
        feedstock_id=feedstock_id,
        bakery_id=_bakery_id(session, effect.bakery, bakeries),
        recipe_id=effect.recipe_id,
        head_sha=effect.head_sha,
        is_test=is_test,
        pr_number=effect.pr_number,
        requested_by=effect.requested_by,
    )
    if effect.requested_by is not None or not is_test:
        comment_id = effect.comment_id if isinstance(effect, QueueTestRun) else None
        enqueue_dispatch(
            session, run_id=run_id, installation_id=installation_id, comment_id=comment_id
        )
    return run_id


def _bakery_id(session: Session, name: str, bakeries: BakeryServices | None) -> int:
    found = db_runs.bakery_id(session, name)
    if found is None and bakeries is not None and name in bakeries.registry:
        # The rows are synced at start-up; a bakery added since is synced on first use.
        found = sync_bakeries(session, bakeries.registry).get(name)
    if found is None:
        raise PermanentFailure(UNKNOWN_BAKERY.format(name=name))
    return found


def request_dispatch(session: Session, effect: DispatchRun, *, installation_id: int) -> None:
    """Mark the queued run as asked for by the commenter and enqueue its dispatch."""
    if db_runs.request_run(session, effect.run_id, requested_by=effect.requested_by):
        enqueue_dispatch(
            session,
            run_id=effect.run_id,
            installation_id=installation_id,
            comment_id=effect.comment_id,
        )


def enqueue_dispatch(
    session: Session, *, run_id: int, installation_id: int, comment_id: int | None
) -> None:
    queue.enqueue(
        session,
        kind=DISPATCH_RUN,
        payload={
            "recipe_run_id": run_id,
            "installation_id": installation_id,
            "comment_id": comment_id,
        },
        dedupe_key=DispatchRun(run_id=run_id, requested_by="").dedupe_key,
    )


def cancel_run(session: Session, effect: CancelRun) -> tuple[BakeHandle, str] | None:
    """Complete the run `cancelled` and queue the stop of its bake, if it was submitted.

    Returns the bake to stop (and its bakery), or None.
    """
    found = db_runs.lock_run(session, effect.run_id)
    if found is None:
        return None
    run = found.run
    outcome = transition(run.status, run.conclusion, Cancel())
    if not isinstance(outcome, Transition):
        log.info("cancel ignored", extra={"run": run.id, "reason": outcome.reason})
        return None
    db_runs.apply_transition(session, run.id, outcome, now=datetime.now(UTC), message=effect.reason)
    job_name, job_id = db_runs.bake_of(session, run.id)
    if job_name is None:
        return None
    handle = BakeHandle(
        bakery=run.bakery,
        recipe_run_id=run.id,
        is_test=run.is_test,
        job_name=job_name,
        job_id=job_id,
    )
    # Stopped by its own job (outbox): retried on its own if the bakery cannot be reached.
    enqueue_cancel_bake(session, handle)
    return handle, run.bakery


def enqueue_once(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
    max_attempts: int = 5,
) -> int | None:
    """Enqueue unless a job with this key is live or already succeeded (a replayed delivery)."""
    if db_runs.job_succeeded(session, dedupe_key):
        return None
    return queue.enqueue(
        session, kind=kind, payload=payload, dedupe_key=dedupe_key, max_attempts=max_attempts
    )
