"""Job kind `handle_delivery`: run a stored delivery through the event router.

How the delivery ends up:
- `handled`, or `ignored` with the reason (returned as `DeliveryIgnored`), is written by the
  queue in the statement that completes the job;
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
from pangeo_forge_orchestrator.jobs.registry import (
    DeliveryIgnored,
    JobContext,
    PermanentFailure,
    job_handler,
)
from pangeo_forge_orchestrator.webhooks.inbox import (
    HANDLE_DELIVERY,
    StoredDelivery,
    load_delivery,
    load_payload,
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
async def handle_delivery(ctx: JobContext, job: ClaimedJob) -> DeliveryIgnored | None:
    """Route the delivery to its event handler and say what came of it."""
    delivery_id = job.payload.get("delivery_id")
    if not isinstance(delivery_id, int):
        raise PermanentFailure(MISSING_DELIVERY_ID)
    patterns = ctx.settings.feedstock_repo_patterns
    # Most of GitHub's traffic is screened out here, without a query.
    screened = screen_claimed(job, delivery_id=delivery_id, patterns=patterns)
    if screened is None:
        screened = await asyncio.to_thread(
            screen_stored, ctx.database, delivery_id=delivery_id, patterns=patterns
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
            return None
        case Ignored(reason=reason):
            return DeliveryIgnored(reason)
        case Failed(reason=reason):
            raise PermanentFailure(reason)
        case _:
            assert_never(outcome)


def screen_claimed(
    job: ClaimedJob, *, delivery_id: int, patterns: Sequence[str]
) -> Screened | None:
    """Screen a delivery from the columns claimed with its job, if that settles it.

    None when the delivery goes to a route (its payload must be read) or its columns did not
    come with the job.
    """
    if job.delivery_id != delivery_id or job.delivery_guid is None or job.delivery_event is None:
        return None
    delivery = StoredDelivery(
        id=delivery_id,
        guid=job.delivery_guid,
        event=job.delivery_event,
        action=job.delivery_action,
        installation_id=job.delivery_installation_id,
        repository=job.delivery_repository,
    )
    envelope = stored_envelope(delivery)
    decision = router.screen(envelope, patterns=patterns)
    if not isinstance(decision, Ignored):
        return None
    return Screened(delivery=delivery, envelope=envelope, decision=decision, payload=None)


def screen_stored(
    database: Database, *, delivery_id: int, patterns: Sequence[str]
) -> Screened | None:
    """Load and screen a delivery; its payload is read only when a route will use it."""
    with database.session() as session:
        delivery = load_delivery(session, delivery_id)
        if delivery is None:
            return None
        envelope = stored_envelope(delivery)
        decision = router.screen(envelope, patterns=patterns)
        payload = None if isinstance(decision, Ignored) else load_payload(session, delivery_id)
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
