"""Which failed webhook deliveries to ask GitHub to send again (GitHub never retries by itself)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# GitHub refuses to redeliver anything older than three days.
REDELIVERY_WINDOW = timedelta(days=3)
# A delivery we keep refusing (too large, malformed) is not requested again forever.
MAX_ATTEMPTS_PER_GUID = 6


@dataclass(frozen=True, kw_only=True)
class WebhookDelivery:
    """One delivery attempt as GitHub lists it (`GET /app/hook/deliveries`)."""

    id: int
    guid: str
    delivered_at: datetime
    status: str
    status_code: int
    redelivery: bool = False
    event: str = ""
    action: str | None = None

    @property
    def failed(self) -> bool:
        return self.status_code >= 400 or self.status != "OK"


def failed_guids(deliveries: Iterable[WebhookDelivery], *, since: datetime) -> set[str]:
    """GUIDs with a failed attempt since SINCE: the ones worth looking up in our inbox."""
    return {d.guid for d in deliveries if d.failed and d.delivered_at >= since}


def deliveries_to_redeliver(
    deliveries: Iterable[WebhookDelivery],
    *,
    stored_guids: Collection[str],
    since: datetime,
    max_attempts: int = MAX_ATTEMPTS_PER_GUID,
) -> list[WebhookDelivery]:
    """Choose, per GUID, the latest failed attempt to redeliver; most recent first.

    A GUID is redelivered when:
    - its latest attempt failed (status_code >= 400 or status other than "OK") at or after SINCE,
    - no attempt of it succeeded,
    - we never stored it (a delivery we stored is ours even if GitHub saw a timeout),
    - GitHub has tried it fewer than MAX_ATTEMPTS times.
    """
    attempts: dict[str, list[WebhookDelivery]] = {}
    for delivery in deliveries:
        attempts.setdefault(delivery.guid, []).append(delivery)
    chosen: list[WebhookDelivery] = []
    for guid, tries in attempts.items():
        if guid in stored_guids or len(tries) >= max_attempts:
            continue
        if any(not attempt.failed for attempt in tries):
            continue
        latest = max(tries, key=lambda d: (d.delivered_at, d.id))
        if latest.delivered_at >= since:
            chosen.append(latest)
    chosen.sort(key=lambda d: (d.delivered_at, d.id), reverse=True)
    return chosen
