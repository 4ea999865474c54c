"""What one run of a job comes to: run its handler, read how it ended, write that to the queue.

A handler that returns succeeded; `RetryLater` defers the job without using an attempt;
`PermanentFailure` fails it now; any other exception is a failure retried with backoff.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.backoff import Backoff
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import (
    DeliveryIgnored,
    JobContext,
    PermanentFailure,
    Registry,
    RetryLater,
)

log = logging.getLogger("pangeo_forge_orchestrator.worker")

UNKNOWN_KIND_ERROR = "unknown job kind {kind!r}: no handler is registered for it"
LAST_LEASE_EXPIRED_ERROR = "lease expired on the last attempt"
_MAX_ERROR_CHARS = 8_000


@dataclass(frozen=True)
class Succeeded:
    # Why the job's delivery needed nothing (it is marked `ignored`); None: `handled`.
    ignored: str | None = None


@dataclass(frozen=True)
class Failed:
    error: str
    retry: bool


@dataclass(frozen=True)
class Deferred:
    at: datetime
    reason: str


Result = Succeeded | Failed | Deferred


@dataclass(frozen=True)
class Finished:
    job: ClaimedJob
    result: Result
    duration_ms: float


@dataclass(frozen=True)
class Settled:
    """What became of a finished job: an outcome word for the log, and its details."""

    finished: Finished
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)


async def execute(registry: Registry, context: JobContext, job: ClaimedJob) -> Result:
    """Run the job's handler and say how it ended; cancellation propagates."""
    if job.attempt > job.max_attempts:
        # Only a lease lost on the last attempt gets here: its worker died running it.
        return Failed(job.last_error or LAST_LEASE_EXPIRED_ERROR, retry=False)
    kind = registry.get(job.kind)
    if kind is None:
        return Failed(UNKNOWN_KIND_ERROR.format(kind=job.kind), retry=False)
    try:
        ended = await kind.handler(context, job)
    except RetryLater as signal:
        return Deferred(signal.at, signal.reason)
    except PermanentFailure as failure:
        return Failed(failure.reason, retry=False)
    except Exception as error:
        return Failed(describe_error(error), retry=True)
    return Succeeded(ignored=ended.reason if isinstance(ended, DeliveryIgnored) else None)


def split_plain_successes(
    items: Sequence[Finished], registry: Registry
) -> tuple[list[Finished], list[Finished]]:
    """Successes that need nothing but their row updated (batchable), and everything else."""
    plain: list[Finished] = []
    others: list[Finished] = []
    for item in items:
        batchable = isinstance(item.result, Succeeded) and _repeat_every(registry, item.job) is None
        (plain if batchable else others).append(item)
    return plain, others


def ignored_reasons(plain: Sequence[Finished]) -> dict[int, str]:
    """Job id -> why its delivery needed nothing, for the successes that said so."""
    return {
        item.job.id: item.result.ignored
        for item in plain
        if isinstance(item.result, Succeeded) and item.result.ignored is not None
    }


def settled_successes(plain: Sequence[Finished], done: set[int]) -> list[Settled]:
    return [Settled(item, "succeeded" if item.job.id in done else "lease_lost") for item in plain]


def settle_all(
    session: Session, items: Sequence[Finished], *, registry: Registry, backoff: Backoff
) -> list[Settled]:
    """Write finished jobs' results: plain successes in one statement, the rest one by one."""
    plain, others = split_plain_successes(items, registry)
    done = queue.complete_many(
        session, [item.job for item in plain], ignored=ignored_reasons(plain)
    )
    return settled_successes(plain, done) + [
        settle(session, item, registry=registry, backoff=backoff) for item in others
    ]


def settle(session: Session, item: Finished, *, registry: Registry, backoff: Backoff) -> Settled:
    """Write a finished job's result, in the caller's transaction."""
    job, result = item.job, item.result
    every = _repeat_every(registry, job)
    match result:
        case Succeeded(ignored=ignored):
            done = queue.complete(session, job, repeat_every=every, ignored=ignored)
            return Settled(item, "succeeded" if done else "lease_lost")
        case Deferred(at=at, reason=reason):
            done = queue.reschedule(session, job, at=at, reason=reason)
            details = {"retry_at": at.isoformat(), "reason": reason}
            return Settled(item, "rescheduled" if done else "lease_lost", details)
        case Failed(error=error, retry=retry):
            outcome = queue.fail(
                session, job, error=error, retry=retry, backoff=backoff, repeat_every=every
            )
            summary = {"error": error.splitlines()[0] if error else ""}
            if isinstance(outcome, queue.Retry):
                return Settled(item, "retrying", {**summary, "retry_at": outcome.at.isoformat()})
            if isinstance(outcome, queue.GaveUp):
                return Settled(item, "failed", summary)
            return Settled(item, "lease_lost", summary)


def _repeat_every(registry: Registry, job: ClaimedJob) -> timedelta | None:
    kind = registry.get(job.kind)
    return kind.every if kind is not None else None


def released(job: ClaimedJob) -> Settled:
    return Settled(Finished(job, Succeeded(), 0.0), "released")


def log_settled(settled: Sequence[Settled]) -> None:
    """One line per job: job_id, kind, delivery_guid (if any), outcome, duration_ms, attempt."""
    for item in settled:
        job = item.finished.job
        fields: dict[str, Any] = {
            "job_id": job.id,
            "kind": job.kind,
            "outcome": item.outcome,
            "duration_ms": round(item.finished.duration_ms, 1),
            "attempt": job.attempt,
            **item.details,
        }
        if job.delivery_guid is not None:
            fields["delivery_guid"] = job.delivery_guid
        log.log(_LEVELS.get(item.outcome, logging.WARNING), "job %s", item.outcome, extra=fields)


_LEVELS = {"succeeded": logging.INFO, "rescheduled": logging.INFO, "failed": logging.ERROR}


def describe_error(error: BaseException) -> str:
    """Summary line first (what admins scan), then the traceback, bounded in size."""
    summary = f"{type(error).__name__}: {error}"[: _MAX_ERROR_CHARS // 4]
    trace = "".join(traceback.format_exception(error))
    room = _MAX_ERROR_CHARS - len(summary) - 6
    # The innermost frames say where it broke; keep the end of a long traceback.
    trace = trace if len(trace) <= room else "..." + trace[-room:]
    return f"{summary}\n\n{trace}"
