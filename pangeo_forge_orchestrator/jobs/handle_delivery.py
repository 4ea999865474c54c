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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from pangeo_forge_orchestrator.core.events import (
    Envelope,
    Failed,
    Handled,
    Ignored,
    Outcome,
    RepositoryRef,
)
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, PermanentFailure, job_handler
from pangeo_forge_orchestrator.webhooks.inbox import (
    HANDLE_DELIVERY,
    StoredDelivery,
    load_delivery,
    load_payload,
    record_ignored,
)
from pangeo_forge_orchestrator.webhooks.router import router
from pangeo_forge_orchestrator.webhooks.routing import Route

log = logging.getLogger(__name__)

MISSING_DELIVERY_ID = "handle_delivery job has no integer delivery_id in its payload"
DELIVERY_GONE = "delivery {delivery_id} no longer exists"


@dataclass(frozen=True, slots=True, kw_only=True)
class Screened:
    """A stored delivery and what screening decided: ignored, or a route and its payload."""

    delivery: StoredDelivery
    envelope: Envelope
    decision: Route[Any] | Ignored
    payload: dict[str, Any] | None


@job_handler(HANDLE_DELIVERY)
async def handle_delivery(ctx: JobContext, job: ClaimedJob) -> None:
    """Route the delivery to its event handler and record what came of it."""
    delivery_id = job.payload.get("delivery_id")
    if not isinstance(delivery_id, int):
        raise PermanentFailure(MISSING_DELIVERY_ID)
    screened = await asyncio.to_thread(
        screen_stored,
        ctx.database,
        delivery_id=delivery_id,
        patterns=ctx.settings.feedstock_repo_patterns,
    )
    if screened is None:
        raise PermanentFailure(DELIVERY_GONE.format(delivery_id=delivery_id))
    outcome: Outcome
    if isinstance(screened.decision, Ignored):
        outcome = screened.decision
    else:
        assert screened.payload is not None  # screen_stored loads it for every route
        outcome = await router.run(
            ctx, screened.decision, envelope=screened.envelope, payload=screened.payload
        )
    log.info(
        "delivery dispatched",
        extra={
            "delivery": screened.delivery.guid,
            "event": screened.delivery.event,
            "outcome": outcome.status,
        },
    )
    match outcome:
        case Handled():
            return
        case Ignored(reason=reason):
            # Screening recorded its own decision; a handler's choice to ignore is recorded here.
            if not isinstance(screened.decision, Ignored):
                await asyncio.to_thread(_record_ignored, ctx.database, delivery_id, reason)
        case Failed(reason=reason):
            raise PermanentFailure(reason)
        case _:
            assert_never(outcome)


def screen_stored(
    database: Database, *, delivery_id: int, patterns: Sequence[str]
) -> Screened | None:
    """Load and screen a delivery in one transaction.

    A delivery that no handler takes (most of GitHub's traffic) is marked ignored right there,
    and its payload is never read back.
    """
    with database.session() as session:
        delivery = load_delivery(session, delivery_id)
        if delivery is None:
            return None
        envelope = stored_envelope(delivery)
        decision = router.screen(envelope, patterns=patterns)
        if isinstance(decision, Ignored):
            record_ignored(session, delivery_id=delivery_id, reason=decision.reason)
            payload = None
        else:
            payload = load_payload(session, delivery_id)
    return Screened(delivery=delivery, envelope=envelope, decision=decision, payload=payload)


def stored_envelope(delivery: StoredDelivery) -> Envelope:
    """The envelope from the columns stored at ingest (the sender is not stored)."""
    return Envelope(
        event=delivery.event,
        action=delivery.action,
        installation_id=delivery.installation_id,
        repository=(
            RepositoryRef.from_full_name(delivery.repository) if delivery.repository else None
        ),
        sender=None,
    )


def _record_ignored(database: Database, delivery_id: int, reason: str) -> None:
    with database.session() as session:
        record_ignored(session, delivery_id=delivery_id, reason=reason)
