"""The App's webhook delivery log on GitHub: list it, find what we missed, ask for it again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pangeo_forge_orchestrator.adapters.github.client import GitHubClient
from pangeo_forge_orchestrator.adapters.github.errors import GitHubError, GitHubUnavailable
from pangeo_forge_orchestrator.core.redelivery import (
    WebhookDelivery,
    deliveries_to_redeliver,
    failed_guids,
)

log = logging.getLogger(__name__)

KnownGuids = Callable[[Sequence[str]], Awaitable[set[str]]]

DELIVERIES_URL = "/app/hook/deliveries{?per_page}"
REDELIVER_URL = "/app/hook/deliveries/{delivery_id}/attempts"
PAGE_SIZE = 100


def parse_delivery(item: dict[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=int(item["id"]),
        guid=str(item["guid"]),
        delivered_at=datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00")),
        status=str(item.get("status") or ""),
        status_code=int(item.get("status_code") or 0),
        redelivery=bool(item.get("redelivery")),
        event=str(item.get("event") or ""),
        action=item.get("action"),
    )


async def list_deliveries(app_client: GitHubClient, *, since: datetime) -> list[WebhookDelivery]:
    """The App's delivery attempts back to SINCE (GitHub lists them newest first)."""
    deliveries: list[WebhookDelivery] = []
    async with aclosing(app_client.getiter(DELIVERIES_URL, {"per_page": PAGE_SIZE})) as items:
        async for item in items:
            delivery = parse_delivery(item)
            if delivery.delivered_at < since:
                # Newest first: everything after this is older still, so stop paging here.
                break
            deliveries.append(delivery)
    return deliveries


async def find_missed_deliveries(
    app_client: GitHubClient, *, since: datetime, known_guids: KnownGuids
) -> list[WebhookDelivery]:
    """Failed deliveries since SINCE that we never stored, one per GUID, most recent first.

    `known_guids(guids)` returns the subset of GUIDS that our inbox holds.
    """
    deliveries = await list_deliveries(app_client, since=since)
    candidates = failed_guids(deliveries, since=since)
    stored = await known_guids(sorted(candidates)) if candidates else set()
    return deliveries_to_redeliver(deliveries, stored_guids=stored, since=since)


@dataclass
class RedeliveryReport:
    requested: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


async def redeliver(
    app_client: GitHubClient, deliveries: Sequence[WebhookDelivery]
) -> RedeliveryReport:
    """Ask GitHub to send each delivery again.

    A refusal of one (404, 422: too old, gone) is recorded and the rest go on; RateLimited and
    GitHubUnavailable propagate so that the job is rescheduled.
    """
    report = RedeliveryReport()
    for delivery in deliveries:
        try:
            await app_client.post(REDELIVER_URL, {"delivery_id": delivery.id})
        except GitHubUnavailable:
            raise
        except GitHubError as exc:
            report.refused[delivery.id] = exc.message
            log.warning(
                "redelivery refused",
                extra={"delivery_id": delivery.id, "guid": delivery.guid, "status": exc.status},
            )
            continue
        report.requested.append(delivery.id)
        log.info(
            "redelivery requested",
            extra={"delivery_id": delivery.id, "guid": delivery.guid, "event": delivery.event},
        )
    return report
