"""GitHub rate limits: read the quota headers, recognise a limit, and hold back until it lifts.

Rules from GitHub's docs (../shared/github/rest/RATE_LIMITS.md): a 403/429 is a rate limit when
`x-ratelimit-remaining` is 0 (primary: wait for `x-ratelimit-reset`) or when GitHub says so
(secondary: honour `retry-after`, else the reset if remaining is 0, else at least a minute).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge

from pangeo_forge_orchestrator.adapters.github.errors import RateLimited

SECONDARY_MINIMUM_WAIT = timedelta(minutes=1)
DEFAULT_RESOURCE = "core"

RATELIMIT_REMAINING = Gauge(
    "pfo_github_ratelimit_remaining",
    "Requests left in GitHub's current rate-limit window, as last reported",
    ["resource"],
)
RATELIMIT_LIMIT = Gauge(
    "pfo_github_ratelimit_limit",
    "Requests allowed per GitHub rate-limit window, as last reported",
    ["resource"],
)
RATELIMIT_RESET = Gauge(
    "pfo_github_ratelimit_reset_timestamp_seconds",
    "When GitHub's current rate-limit window resets (Unix time), as last reported",
    ["resource"],
)


@dataclass(frozen=True)
class Quota:
    """GitHub's `x-ratelimit-*` headers of one response."""

    resource: str
    limit: int
    remaining: int
    used: int | None
    reset_at: datetime


def quota_from_headers(headers: Mapping[str, str]) -> Quota | None:
    """The quota a response reports, or None when it carries no (readable) rate-limit headers."""
    try:
        limit = int(headers["x-ratelimit-limit"])
        remaining = int(headers["x-ratelimit-remaining"])
        reset = datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), UTC)
    except (KeyError, ValueError):
        return None
    used = headers.get("x-ratelimit-used")
    return Quota(
        resource=headers.get("x-ratelimit-resource", DEFAULT_RESOURCE),
        limit=limit,
        remaining=remaining,
        used=int(used) if used and used.isdigit() else None,
        reset_at=reset,
    )


def rate_limit_of(
    status: int, headers: Mapping[str, str], message: str, *, now: datetime
) -> RateLimited | None:
    """The rate limit a response signals, or None when it is not a rate-limit response."""
    if status not in (403, 429):
        return None
    quota = quota_from_headers(headers)
    resource = quota.resource if quota else headers.get("x-ratelimit-resource", DEFAULT_RESOURCE)
    primary_at = quota.reset_at if quota is not None and quota.remaining == 0 else None
    retry_after = _seconds(headers.get("retry-after"))
    if retry_after is not None:
        # Both can be present; waiting for the later of the two satisfies both.
        at = now + timedelta(seconds=retry_after)
        return RateLimited(max(at, primary_at or at), kind="secondary", resource=resource)
    if primary_at is not None:
        return RateLimited(max(primary_at, now), kind="primary", resource=resource)
    if status == 429 or "rate limit" in message.lower():
        return RateLimited(now + SECONDARY_MINIMUM_WAIT, kind="secondary", resource=resource)
    return None


def _seconds(value: str | None) -> int | None:
    """`Retry-After` in seconds; GitHub sends an integer (an HTTP date is not used by its API)."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class RateLimitBook:
    """The latest quota per resource (also exported as gauges) and the limits still in force.

    Limits are kept per identity (the App JWT, or one installation) because GitHub counts each
    separately; while one is in force the client refuses to send, as GitHub asks.
    """

    def __init__(self) -> None:
        self.latest: dict[str, Quota] = {}
        self._in_force: dict[str, RateLimited] = {}

    def record(self, headers: Mapping[str, str]) -> Quota | None:
        quota = quota_from_headers(headers)
        if quota is None:
            return None
        self.latest[quota.resource] = quota
        RATELIMIT_REMAINING.labels(resource=quota.resource).set(quota.remaining)
        RATELIMIT_LIMIT.labels(resource=quota.resource).set(quota.limit)
        RATELIMIT_RESET.labels(resource=quota.resource).set(quota.reset_at.timestamp())
        return quota

    def hold(self, identity: str, limited: RateLimited) -> None:
        self._in_force[identity] = limited

    def in_force(self, identity: str, *, now: datetime) -> RateLimited | None:
        limited = self._in_force.get(identity)
        if limited is not None and limited.reset_at <= now:
            del self._in_force[identity]
            return None
        return limited
