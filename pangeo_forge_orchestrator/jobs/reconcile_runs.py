"""Periodic job `reconcile_runs`: settle runs that no bakery report will ever settle.

Decisions are core.reconcile's; this job gathers the facts (the database, what the local
bakery in this process knows of its bakes, what Dataflow's jobs API says of a remote job) and
carries the actions out through the usual job kinds: `complete_run` (timed_out, failed, or the
state Dataflow reports, exactly as a callback would have queued it), `cancel_bake` and
`dispatch_run`. A bakery that cannot be asked (no key, refused, down) leaves its run as it is
until the next pass, or its timeout; it never stops the other runs' reconciliation.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowApiError,
    DataflowNotConfiguredError,
)
from pangeo_forge_orchestrator.core.bakeries import DEFAULT_MAX_RUN_SECONDS
from pangeo_forge_orchestrator.core.bakes import BakeHandle, BakeState, BakeStatus
from pangeo_forge_orchestrator.core.reconcile import (
    Action,
    MarkLost,
    Redispatch,
    RunFacts,
    Settle,
    TimeOut,
    needs_bake_state,
    reconcile_all,
)
from pangeo_forge_orchestrator.core.service_effects import DispatchRun
from pangeo_forge_orchestrator.core.vocabulary import RunStatus
from pangeo_forge_orchestrator.db.tables import Bakery, Job, RecipeRun
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.cancel_bake import enqueue_cancel_bake
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, job_handler
from pangeo_forge_orchestrator.jobs.services import (
    BAKERIES_SERVICE,
    COMPLETE_RUN,
    DISPATCH_RUN,
    BakeryServices,
    completion_payload,
)

log = logging.getLogger(__name__)

RECONCILE_RUNS = "reconcile_runs"
RUNS = RecipeRun.__table__  # type: ignore[attr-defined]
BAKERIES = Bakery.__table__  # type: ignore[attr-defined]
JOBS = Job.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    facts: RunFacts
    handle: BakeHandle
    submitted: bool  # the bakery accepted the bake (its job name is recorded)


@job_handler(RECONCILE_RUNS, every=timedelta(minutes=5))
async def reconcile_runs(ctx: JobContext, job: ClaimedJob) -> None:
    """Time out, settle, fail or re-dispatch the runs that would otherwise stay unfinished."""
    bakeries = ctx.services.get(BAKERIES_SERVICE)
    services = bakeries if isinstance(bakeries, BakeryServices) else None
    rows = await ctx.in_session(lambda s: _unfinished_runs(s, services))
    now = datetime.now(UTC)
    facts = [await _with_bake_state(row, services, now=now) for row in rows]
    actions = reconcile_all(facts, now=now)
    if not actions:
        return
    # A timed-out bake may still be running somewhere: a job of its own stops it.
    timed_out = {action.run_id for action in actions if isinstance(action, TimeOut)}
    to_stop = [row.handle for row in rows if row.submitted and row.facts.run_id in timed_out]
    await ctx.in_session(lambda s: _enqueue(s, actions, to_stop))
    for action in actions:
        log.info("run reconciled", extra={"run": action.run_id, "action": type(action).__name__})


def _unfinished_runs(session: Session, services: BakeryServices | None) -> list[_Row]:
    dispatch_jobs = (
        sa.select(
            sa.func.count().label("jobs"),
            sa.func.count().filter(JOBS.c.status.in_(("queued", "running"))).label("alive"),
        )
        .where(
            JOBS.c.kind == DISPATCH_RUN,
            JOBS.c.dedupe_key == sa.func.concat("dispatch:", RUNS.c.id),
        )
        .lateral()
    )
    query = (
        sa.select(
            RUNS.c.id,
            RUNS.c.recipe_id,
            RUNS.c.status,
            RUNS.c.is_test,
            RUNS.c.requested_by,
            RUNS.c.updated_at,
            RUNS.c.created_at,
            RUNS.c.bakery_job_name,
            RUNS.c.bakery_job_id,
            BAKERIES.c.name.label("bakery"),
            dispatch_jobs.c.jobs,
            dispatch_jobs.c.alive,
        )
        .select_from(
            RUNS.join(BAKERIES, BAKERIES.c.id == RUNS.c.bakery_id).join(dispatch_jobs, sa.true())
        )
        .where(
            sa.or_(
                RUNS.c.status == RunStatus.IN_PROGRESS,
                sa.and_(RUNS.c.status == RunStatus.QUEUED, RUNS.c.requested_by.is_not(None)),
            )
        )
        .order_by(RUNS.c.id)
    )
    return [_row(row, services) for row in session.execute(query)]


def _row(row: Any, services: BakeryServices | None) -> _Row:
    config = services.registry.bakeries.get(row.bakery) if services is not None else None
    # A bakery no longer configured here still gets the default limit: nothing runs forever.
    facts = RunFacts(
        run_id=row.id,
        recipe_id=row.recipe_id,
        status=RunStatus(row.status),
        bakery_kind=config.kind if config is not None else None,
        max_run_seconds=config.max_run_seconds if config is not None else DEFAULT_MAX_RUN_SECONDS,
        in_progress_since=row.updated_at,
        created_at=row.created_at,
        requested=row.requested_by is not None,
        dispatch_job_alive=row.alive > 0,
        dispatch_jobs=row.jobs,
    )
    handle = BakeHandle(
        bakery=row.bakery,
        recipe_run_id=row.id,
        is_test=row.is_test,
        job_name=row.bakery_job_name or "",
        job_id=row.bakery_job_id,
    )
    return _Row(facts=facts, handle=handle, submitted=row.bakery_job_name is not None)


async def _with_bake_state(
    row: _Row, services: BakeryServices | None, *, now: datetime
) -> RunFacts:
    """The facts, with the bakery's word on the bake when it is needed.

    A remote bakery that cannot answer leaves the run "not asked": one log line, no secrets.
    """
    facts = row.facts
    if services is None or not needs_bake_state(facts, now=now):
        return facts
    adapter = services.adapters.get(row.handle.bakery)
    if adapter is None:
        return facts
    try:
        status = await adapter.status(row.handle)
    except (DataflowNotConfiguredError, DataflowApiError) as error:
        # A bakery without a jobs client relies on callbacks by choice: not worth a warning.
        level = logging.INFO if isinstance(error, DataflowNotConfiguredError) else logging.WARNING
        log.log(
            level,
            "could not ask the bakery how a run is doing",
            extra={
                "run": facts.run_id,
                "bakery": row.handle.bakery,
                "error": type(error).__name__,
                "detail": services.registry.redact(str(error)),
            },
        )
        return facts
    return dataclasses.replace(facts, bake_state=status.state, bake_message=status.message)


def _enqueue(session: Session, actions: list[Action], to_stop: list[BakeHandle]) -> None:
    for action in actions:
        match action:
            case TimeOut(run_id=run_id, message=message):
                _complete(session, run_id, BakeStatus(state=BakeState.TIMED_OUT, message=message))
            case Settle(run_id=run_id, state=state, message=message):
                _complete(session, run_id, BakeStatus(state=state, message=message))
            case MarkLost(run_id=run_id, message=message):
                _complete(session, run_id, BakeStatus(state=BakeState.FAILED, message=message))
            case Redispatch(run_id=run_id):
                queue.enqueue(
                    session,
                    kind=DISPATCH_RUN,
                    payload={"recipe_run_id": run_id, "installation_id": None, "comment_id": None},
                    dedupe_key=DispatchRun(run_id=run_id, requested_by="").dedupe_key,
                )
            case _:
                assert_never(action)

    for handle in to_stop:
        enqueue_cancel_bake(session, handle)


def _complete(session: Session, run_id: int, status: BakeStatus) -> None:
    """Queue the run's completion as a bakery report would: same payload, same dedupe key.

    A callback arriving later for the same state is then a duplicate, and for another state
    a late report that the state machine ignores.
    """
    queue.enqueue(
        session,
        kind=COMPLETE_RUN,
        payload=completion_payload(run_id, status),
        dedupe_key=f"complete:{run_id}:{status.state.value}",
    )
