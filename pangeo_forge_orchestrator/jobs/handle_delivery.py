"""Job kind `handle_delivery`: run a stored delivery through the event router.

How the delivery ends up:
- `ignored` (with the reason) is written here, before the job completes;
- `handled` is written by the queue in the transaction that completes the job;
- `failed` is written by the queue when the job fails for good: at once for a payload that
  retrying cannot mend (PermanentFailure), after the last attempt for any other exception.
"""

from __future__ import annotations

import asyncio
import logging
from typing import assert_never

from pangeo_forge_orchestrator.core.events import Failed, Handled, Ignored
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, job_handler
from pangeo_forge_orchestrator.webhooks.inbox import HANDLE_DELIVERY, load_delivery, record_ignored
from pangeo_forge_orchestrator.webhooks.router import router

log = logging.getLogger(__name__)

MISSING_DELIVERY_ID = "handle_delivery job has no integer delivery_id in its payload"
DELIVERY_GONE = "delivery {delivery_id} no longer exists"


@job_handler(HANDLE_DELIVERY)
async def handle_delivery(ctx: JobContext, job: ClaimedJob) -> None:
    """Dispatch the delivery to its event handler and record what came of it."""
    delivery_id = job.payload.get("delivery_id")
    if not isinstance(delivery_id, int):
        raise PermanentFailure(MISSING_DELIVERY_ID)
    delivery = await asyncio.to_thread(load_delivery, ctx.database, delivery_id)
    if delivery is None:
        raise PermanentFailure(DELIVERY_GONE.format(delivery_id=delivery_id))
    outcome = await router.dispatch(ctx, event=delivery.event, payload=delivery.payload)
    log.info(
        "delivery dispatched",
        extra={"delivery": delivery.guid, "event": delivery.event, "outcome": outcome.status},
    )
    match outcome:
        case Handled():
            return
        case Ignored(reason=reason):
            await asyncio.to_thread(
                record_ignored, ctx.database, delivery_id=delivery_id, reason=reason
            )
        case Failed(reason=reason):
            raise PermanentFailure(reason)
        case _:
            assert_never(outcome)
