"""Retry delays: exponential backoff with jitter, as a pure function of the attempt number."""

from __future__ import annotations

from dataclasses import dataclass

# Past this many doublings every delay is at the cap anyway; stopping here keeps the float finite.
_MAX_EXPONENT = 64


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """How long a failed job waits before its next try.

    The delay after failed attempt n (1-based) lies in
    [ceiling(n) * (1 - jitter), ceiling(n)], where ceiling(n) = min(cap, base * factor**(n-1)).
    The jitter spreads the retries of jobs that failed together (a GitHub outage fails a whole
    burst at once) so that they do not come back as one burst.
    """

    base_seconds: float = 10.0
    factor: float = 2.0
    cap_seconds: float = 3600.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("backoff delays must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must lie between 0 and 1")

    def ceiling(self, attempt: int) -> float:
        """Return the longest delay after failed attempt `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        exponent = min(attempt - 1, _MAX_EXPONENT)
        return float(min(self.cap_seconds, self.base_seconds * self.factor**exponent))

    def delay(self, attempt: int, *, rand: float) -> float:
        """Return the delay after failed attempt `attempt`; `rand` is uniform in [0, 1)."""
        if not 0 <= rand < 1:
            raise ValueError(f"rand must lie in [0, 1), got {rand}")
        ceiling = self.ceiling(attempt)
        return ceiling * (1 - self.jitter * rand)


DEFAULT_BACKOFF = Backoff()
