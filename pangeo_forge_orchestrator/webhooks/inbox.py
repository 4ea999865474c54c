"""The delivery inbox: store a verified delivery with its job, load it, record how it went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from pangeo_forge_orchestrator.core.vocabulary import DeliveryStatus
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.tables import Delivery
from pangeo_forge_orchestrator.jobs import queue

HANDLE_DELIVERY = "handle_delivery"
DEDUPE_PREFIX = "delivery:"

# Deliveries and their jobs in ONE statement, run in autocommit: a single round trip and one
# commit for a whole batch (group commit, see webhooks/writer.py).
# - The payload goes to Postgres as the JSON text received: parsing it into a dict and
#   serialising it again would double the request's CPU cost for the same JSONB.
# - The job row is the one `queue.enqueue` writes (kind, payload, dedupe key, delivery) and the
#   NOTIFY the one it sends, inlined here to save three round trips per delivery;
#   tests/webhooks/test_inbox.py holds the two to the same result.
# - `pg_notify` sits in an uncorrelated subquery: evaluated once, and only when a job was added.
_INSERT_DELIVERIES = sa.text(
    """
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:guids AS text[]), CAST(:events AS text[]), CAST(:actions AS text[]),
            CAST(:installation_ids AS bigint[]), CAST(:repositories AS text[]),
            CAST(:payloads AS text[])
        ) WITH ORDINALITY AS t(guid, event, action, installation_id, repository, payload, n)
    ), delivered AS (
        INSERT INTO delivery (guid, event, action, installation_id, repository, payload)
        SELECT guid, event, action, installation_id, repository, CAST(payload AS jsonb)
        FROM input ORDER BY n
        ON CONFLICT (guid) DO NOTHING
        RETURNING id, guid
    ), queued AS (
        INSERT INTO job (kind, payload, dedupe_key, delivery_id)
        SELECT :kind, jsonb_build_object('delivery_id', id), :dedupe_prefix || guid, id
        FROM delivered ORDER BY id
        ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING
        RETURNING id
    )
    SELECT guid, (SELECT pg_notify(:channel, '') FROM queued LIMIT 1)
    FROM delivered
    """
)


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundDelivery:
    """A verified delivery, ready to store; `payload_json` is a JSON object's text."""

    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None
    payload_json: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDelivery:
    """A stored delivery's columns; the payload is loaded apart, only when a handler needs it."""

    id: int
    guid: str
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None


def delivery_dedupe_key(guid: str) -> str:
    return DEDUPE_PREFIX + guid


def enqueue_handling(session: Session, *, delivery_id: int, guid: str) -> int | None:
    """Queue the job that handles a delivery; None when one is already queued or running."""
    return queue.enqueue(
        session,
        kind=HANDLE_DELIVERY,
        payload={"delivery_id": delivery_id},
        dedupe_key=delivery_dedupe_key(guid),
        delivery_id=delivery_id,
    )


def store_deliveries(database: Database, batch: Sequence[InboundDelivery]) -> set[str]:
    """Store deliveries and their jobs in one autocommitted statement; the GUIDs newly stored.

    A GUID stored before (or twice in the batch) is stored once and queued once.
    """
    if not batch:
        return set()
    params = {
        "guids": [d.guid for d in batch],
        "events": [d.event for d in batch],
        "actions": [d.action for d in batch],
        "installation_ids": [d.installation_id for d in batch],
        "repositories": [d.repository for d in batch],
        "payloads": [d.payload_json for d in batch],
        "kind": HANDLE_DELIVERY,
        "dedupe_prefix": DEDUPE_PREFIX,
        "channel": queue.NOTIFY_CHANNEL,
    }
    with database.engine.connect() as conn:
        rows = conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            _INSERT_DELIVERIES, params
        )
        return {row.guid for row in rows}


def store_delivery(database: Database, inbound: InboundDelivery) -> bool:
    """Store one delivery and its job; False when the GUID was seen before."""
    return inbound.guid in store_deliveries(database, [inbound])


def load_delivery(session: Session, delivery_id: int) -> StoredDelivery | None:
    row = session.execute(
        sa.select(
            col(Delivery.id),
            col(Delivery.guid),
            col(Delivery.event),
            col(Delivery.action),
            col(Delivery.installation_id),
            col(Delivery.repository),
        ).where(col(Delivery.id) == delivery_id)
    ).first()
    if row is None:
        return None
    return StoredDelivery(
        id=row.id,
        guid=row.guid,
        event=row.event,
        action=row.action,
        installation_id=row.installation_id,
        repository=row.repository,
    )


def load_payload(session: Session, delivery_id: int) -> dict[str, Any]:
    payload: dict[str, Any] = session.execute(
        sa.select(col(Delivery.payload)).where(col(Delivery.id) == delivery_id)
    ).scalar_one()
    return payload


def replay_delivery(session: Session, *, delivery_id: int, guid: str) -> int | None:
    """Queue a delivery's handling again; None when a job for it is still queued or running.

    The delivery goes back to `queued` so that the new run's outcome, not the last one's, is
    what it shows (the queue only marks `queued` or `failed` deliveries handled).
    """
    job_id = enqueue_handling(session, delivery_id=delivery_id, guid=guid)
    if job_id is not None:
        session.execute(
            sa.update(Delivery)
            .where(col(Delivery.id) == delivery_id)
            .values(status=DeliveryStatus.QUEUED, error=None, handled_at=None)
        )
    return job_id
