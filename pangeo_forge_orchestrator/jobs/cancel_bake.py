"""Job kind `cancel_bake`: stop a bake at its bakery, once its run was completed without it.

Enqueued in the same transaction as the state change that makes the bake pointless (`/cancel`,
a push superseding the PR's runs, reconciliation's timeout). A job of its own, because the job
that changed the state cannot retry the stop: when it comes back, the run is already completed
and there is nothing left for it to cancel.
- Dataflow unavailable (429, 5xx, unreachable) with a `Retry-After`: rescheduled then
  (RetryLater, the attempt does not count); without one, the worker's backoff retries it.
- Dataflow has no such job: nothing to stop; done.
- No Dataflow client configured, or the account may not cancel: failed at once with the
  reason (retrying cannot help; the failed job is visible to admins and replayable).
Payload: the run's BakeHandle fields (`bakery`, `recipe_run_id`, `is_test`, `job_name`, `job_id`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowJobNotFoundError,
    DataflowNotConfiguredError,
    DataflowPermissionError,
    DataflowUnavailableError,
)
from pangeo_forge_orchestrator.core.bakes import BakeHandle
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import (
    JobContext,
    PermanentFailure,
    RetryLater,
    job_handler,
)
from pangeo_forge_orchestrator.jobs.services import bakery_services

log = logging.getLogger(__name__)

CANCEL_BAKE = "cancel_bake"
BAD_PAYLOAD = "cancel_bake needs a bakery name, an integer recipe_run_id and a job name"


def enqueue_cancel_bake(session: Session, handle: BakeHandle) -> int | None:
    """Queue the stop of HANDLE's bake, in the caller's transaction (once per run)."""
    return queue.enqueue(
        session,
        kind=CANCEL_BAKE,
        payload={
            "bakery": handle.bakery,
            "recipe_run_id": handle.recipe_run_id,
            "is_test": handle.is_test,
            "job_name": handle.job_name,
            "job_id": handle.job_id,
        },
        dedupe_key=f"cancel:{handle.recipe_run_id}",
    )


@job_handler(CANCEL_BAKE)
async def cancel_bake(ctx: JobContext, job: ClaimedJob) -> None:
    """Ask the run's bakery to stop its bake."""
    handle = handle_of(job.payload)
    adapter = bakery_services(ctx).adapter(handle.bakery)
    try:
        await adapter.cancel(handle)
    except DataflowJobNotFoundError as error:
        log.info("no bake to cancel", extra={"run": handle.recipe_run_id, "error": str(error)})
    except DataflowUnavailableError as error:
        if error.retry_after is None:
            raise
        raise RetryLater.after(error.retry_after, str(error)) from error
    except (DataflowNotConfiguredError, DataflowPermissionError) as error:
        raise PermanentFailure(str(error)) from error


def handle_of(payload: dict[str, Any]) -> BakeHandle:
    bakery, run_id = payload.get("bakery"), payload.get("recipe_run_id")
    job_name, job_id = payload.get("job_name"), payload.get("job_id")
    if (
        not isinstance(bakery, str)
        or not isinstance(run_id, int)
        or not isinstance(job_name, str)
        or not (job_id is None or isinstance(job_id, str))
    ):
        raise PermanentFailure(BAD_PAYLOAD)
    return BakeHandle(
        bakery=bakery,
        recipe_run_id=run_id,
        is_test=bool(payload.get("is_test")),
        job_name=job_name,
        job_id=job_id,
    )
