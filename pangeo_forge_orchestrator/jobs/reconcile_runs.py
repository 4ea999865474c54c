"""Periodic job `reconcile_runs`: settle runs that no bakery report will ever settle.

Decisions are core.reconcile's; this job gathers the facts (the database, and what the local
bakery in this process knows of its bakes) and carries the actions out through the usual job
kinds: `complete_run` (timed_out, failed) and `dispatch_run`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.bakeries import DEFAULT_MAX_RUN_SECONDS
from pangeo_forge_orchestrator.core.bakes import BakeHandle
from pangeo_forge_orchestrator.core.reconcile import (
    Action,
    MarkLost,
    Redispatch,
    RunFacts,
    TimeOut,
    needs_bake_state,
    reconcile_all,
)
from pangeo_forge_orchestrator.core.service_effects import DispatchRun
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, RunStatus
from pangeo_forge_orchestrator.db.tables import Bakery, Job, RecipeRun
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, job_handler
from pangeo_forge_orchestrator.jobs.services import (
    BAKERIES_SERVICE,
    COMPLETE_RUN,
    DISPATCH_RUN,
    BakeryServices,
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


@job_handler(RECONCILE_RUNS, every=timedelta(minutes=5))
async def reconcile_runs(ctx: JobContext, job: ClaimedJob) -> None:
    """Time out, fail or re-dispatch the runs that would otherwise stay unfinished."""
    bakeries = ctx.services.get(BAKERIES_SERVICE)
    services = bakeries if isinstance(bakeries, BakeryServices) else None
    rows = await ctx.in_session(lambda s: _unfinished_runs(s, services))
    now = datetime.now(UTC)
    facts = [await _with_bake_state(row, services, now=now) for row in rows]
    actions = reconcile_all(facts, now=now)
    if not actions:
        return
    await ctx.in_session(lambda s: _enqueue(s, actions))
    handles = {row.facts.run_id: row.handle for row in rows}
    for action in actions:
        log.info("run reconciled", extra={"run": action.run_id, "action": type(action).__name__})
        if isinstance(action, TimeOut) and services is not None:
            await _cancel(services, handles[action.run_id])


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
    return _Row(facts=facts, handle=handle)


async def _with_bake_state(
    row: _Row, services: BakeryServices | None, *, now: datetime
) -> RunFacts:
    """The facts, with the local bakery's word on the bake when it is needed."""
    facts = row.facts
    if services is None or not needs_bake_state(facts, now=now):
        return facts
    adapter = services.adapters.get(row.handle.bakery)
    if adapter is None or facts.bakery_kind is not BakeryKind.LOCAL:
        return facts
    status = await adapter.status(row.handle)
    return dataclasses.replace(facts, bake_state=status.state)


def _enqueue(session: Session, actions: list[Action]) -> None:
    for action in actions:
        match action:
            case TimeOut(run_id=run_id, message=message):
                _complete(session, run_id, "timed_out", message)
            case MarkLost(run_id=run_id, message=message):
                _complete(session, run_id, "failed", message)
            case Redispatch(run_id=run_id):
                queue.enqueue(
                    session,
                    kind=DISPATCH_RUN,
                    payload={"recipe_run_id": run_id, "installation_id": None, "comment_id": None},
                    dedupe_key=DispatchRun(run_id=run_id, requested_by="").dedupe_key,
                )


def _complete(session: Session, run_id: int, state: str, message: str) -> None:
    queue.enqueue(
        session,
        kind=COMPLETE_RUN,
        payload={"recipe_run_id": run_id, "state": state, "message": message},
        dedupe_key=f"complete:{run_id}:{state}",
    )


async def _cancel(services: BakeryServices, handle: BakeHandle) -> None:
    """Stop a timed-out bake where this process can; the run is settled either way."""
    adapter = services.adapters.get(handle.bakery)
    if adapter is None:
        return
    try:
        await adapter.cancel(handle)
    except Exception:
        log.exception("could not cancel a timed-out bake", extra={"run": handle.recipe_run_id})
