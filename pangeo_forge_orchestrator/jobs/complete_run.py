"""Job kind `complete_run`: a bakery said how a run is doing; record it and report it.

Payload: `{recipe_run_id, state, message}` (+ optional `failure_detail`, `dataset_public_url`),
state one of `running|succeeded|failed|cancelled|timed_out`. Enqueued by the local bakery when
its process exits, by bakery callbacks and by reconciliation. The state change is
core.runs.transition (late and duplicate updates are ignored); a run that completed is reported by
core.run_reports.report_run_completed: the check run completed and a result comment (with a
ready-to-paste xarray snippet, or the error and the logs link), or the deployment's state.
A run that completes has its output kept as its log (adapters/run_logs.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.adapters.run_logs import bake_output, save_run_log
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.run_reports import report_run_completed
from pangeo_forge_orchestrator.core.runs import (
    Cancel,
    Finish,
    RunEvent,
    RunRecord,
    Start,
    Transition,
    transition,
)
from pangeo_forge_orchestrator.core.storage import storage_subpath
from pangeo_forge_orchestrator.core.vocabulary import DatasetType, RunConclusion, RunStatus
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.jobs.effects import Applier
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, job_handler
from pangeo_forge_orchestrator.jobs.services import (
    BAKERIES_SERVICE,
    COMPLETE_RUN,
    BakeryServices,
    installation_client,
    links_of,
    rate_limits_as_retry,
)

log = logging.getLogger(__name__)

BAD_PAYLOAD = "complete_run needs an integer recipe_run_id and a text state"
UNKNOWN_STATE = "unknown run state {state!r}"
NO_RUN = "recipe run {run_id} does not exist"
EVENTS: dict[str, RunEvent] = {
    "running": Start(),
    "succeeded": Finish(RunConclusion.SUCCESS),
    "failed": Finish(RunConclusion.FAILURE),
    "timed_out": Finish(RunConclusion.TIMED_OUT),
    "cancelled": Cancel(),
}
# Bake states that say nothing new: reconciliation settles an unknown one.
NOT_EVENTS = frozenset({"queued", "unknown"})


@dataclass(frozen=True, slots=True)
class Recorded:
    run: RunRecord
    feedstock_spec: str
    changed: bool


@job_handler(COMPLETE_RUN)
async def complete_run(ctx: JobContext, job: ClaimedJob) -> None:
    """Apply the bakery's report to the run, then report a completed run on GitHub."""
    payload = job.payload
    run_id, state = payload.get("recipe_run_id"), payload.get("state")
    if not isinstance(run_id, int) or not isinstance(state, str):
        raise PermanentFailure(BAD_PAYLOAD)
    if state in NOT_EVENTS:
        return
    event = EVENTS.get(state)
    if event is None:
        raise PermanentFailure(UNKNOWN_STATE.format(state=state))
    bakeries = ctx.services.get(BAKERIES_SERVICE)
    app_name = ctx.settings.github_app_name

    def record(session: Session) -> Recorded:
        return record_update(
            session,
            run_id,
            event,
            payload=payload,
            bakeries=bakeries if isinstance(bakeries, BakeryServices) else None,
            app_name=app_name,
        )

    recorded = await ctx.in_session(record)
    run = recorded.run
    if recorded.changed and run.status is RunStatus.COMPLETED:
        await _keep_log(ctx, run, bakeries, payload)
    # A retry reports again: the state change may have been written before GitHub failed.
    if run.status is not RunStatus.COMPLETED or not (recorded.changed or job.attempt > 1):
        return
    repo = RepositoryRef.from_full_name(recorded.feedstock_spec)
    effects = report_run_completed(run, links=links_of(ctx.settings))
    if not effects:
        return
    with rate_limits_as_retry():
        gh, installation_id = await installation_client(ctx, repo)
    applier = Applier(ctx=ctx, github=gh, installation_id=installation_id, repo=repo)
    await applier.apply_all(effects)


async def _keep_log(
    ctx: JobContext, run: RunRecord, bakeries: object, payload: dict[str, Any]
) -> None:
    """Store the run's output (the local bake's tail, else the reported detail) as its log."""
    if not isinstance(bakeries, BakeryServices):
        return
    output = bake_output(bakeries.adapters.get(run.bakery), run.id)
    text = output or _text(payload.get("failure_detail")) or _text(payload.get("message"))
    if text:
        redact = bakeries.registry.redact
        await asyncio.to_thread(save_run_log, ctx.settings.data_dir, run.id, text, redact=redact)


def record_update(
    session: Session,
    run_id: int,
    event: RunEvent,
    *,
    payload: dict[str, Any],
    bakeries: BakeryServices | None,
    app_name: str,
) -> Recorded:
    """Apply EVENT to the run under a row lock; the run as it is afterwards."""
    found = db_runs.lock_run(session, run_id)
    if found is None:
        raise PermanentFailure(NO_RUN.format(run_id=run_id))
    run = found.run
    outcome = transition(run.status, run.conclusion, event)
    if not isinstance(outcome, Transition):
        log.info("run update ignored", extra={"run": run_id, "reason": outcome.reason})
        return Recorded(run=run, feedstock_spec=found.feedstock_spec, changed=False)
    url = None
    if outcome.conclusion is RunConclusion.SUCCESS:
        url = _text(payload.get("dataset_public_url")) or _public_url(
            run, found.feedstock_spec, bakeries=bakeries, app_name=app_name
        )
    db_runs.apply_transition(
        session,
        run_id,
        outcome,
        now=datetime.now(UTC),
        message=_text(payload.get("message")),
        failure_detail=_text(payload.get("failure_detail")),
        dataset_public_url=url,
    )
    after = db_runs.get_run(session, run_id)
    assert after is not None
    return Recorded(run=after.run, feedstock_spec=found.feedstock_spec, changed=True)


def _public_url(
    run: RunRecord, feedstock_spec: str, *, bakeries: BakeryServices | None, app_name: str
) -> str | None:
    """Where the world reads the run's dataset, from its bakery's storage profile."""
    if bakeries is None or run.bakery not in bakeries.registry:
        return None
    dataset_type = run.dataset_type or DatasetType.ZARR
    subpath = storage_subpath(
        app_name=app_name,
        feedstock_spec=feedstock_spec,
        recipe_id=run.recipe_id,
        dataset_type=dataset_type.value,
        is_test=run.is_test,
        recipe_run_id=run.id,
    )
    profile = bakeries.registry[run.bakery].profile(is_test=run.is_test)
    return profile.locate(app_name=app_name, subpath=subpath).public_url


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
