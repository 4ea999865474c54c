"""The durable job queue on the `job` table: enqueue, claim, settle, lease and recover.

- `enqueue` writes in the caller's transaction (outbox) and NOTIFYs `pfo_jobs` at its commit.
- `claim` takes due jobs with FOR UPDATE SKIP LOCKED and leases them until `locked_until`;
  `renew_leases` keeps a long job's lease alive; `recover_expired` puts a job whose worker died
  back in the queue (the lost attempt counts, so a job that kills its worker cannot loop).
- `complete`, `fail`, `reschedule` and `release` settle a claim; each only acts while the caller
  still holds the claim (same `locked_by` and attempt), so a worker that lost its lease cannot
  overwrite the outcome of the worker that took the job over.
- A job ending for good (succeeded or failed) settles its delivery: `handled` on success unless a
  handler already chose `ignored`; `failed` with the error after the last attempt.

Every function takes the caller's Session and never commits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.backoff import DEFAULT_BACKOFF, Backoff

NOTIFY_CHANNEL = "pfo_jobs"
PERIODIC_KEY_PREFIX = "periodic:"
# A Postgres format() template: the attempt, then the worker that held the lease.
LEASE_EXPIRED_ERROR = "lease expired on attempt %s: worker %s was lost"

_INSERT = sa.text(
    """
    INSERT INTO job (kind, payload, dedupe_key, delivery_id, run_after, max_attempts)
    VALUES (:kind, :payload, :dedupe_key, :delivery_id, COALESCE(:run_after, now()), :max_attempts)
    ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING
    RETURNING id
    """
).bindparams(
    sa.bindparam("payload", type_=JSONB),
    sa.bindparam("run_after", type_=sa.DateTime(timezone=True)),
)

_NOTIFY = sa.text(f"NOTIFY {NOTIFY_CHANNEL}")

# Settle a batch of successes and claim the next jobs in ONE statement, which a worker can run
# in autocommit: one round trip and one commit per batch. A settled row is 'running' and a
# claimed one 'queued', so the two UPDATEs of `job` never touch the same row. Settling only
# touches a job its caller still holds (same worker, same attempt).
_SETTLE_AND_CLAIM = sa.text(
    """
    WITH done AS (
        UPDATE job SET status = 'succeeded', locked_until = NULL, last_error = NULL,
            finished_at = now(), updated_at = now()
        FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:workers AS text[]))
            AS held(id, attempt, worker)
        WHERE job.id = held.id AND job.status = 'running' AND job.locked_by = held.worker
            AND job.attempts = held.attempt
        RETURNING job.id, job.delivery_id
    ), handled AS (
        UPDATE delivery SET status = 'handled', handled_at = now(), error = NULL
        WHERE id IN (SELECT delivery_id FROM done) AND status IN ('queued', 'failed')
    ), due AS (
        SELECT id FROM job
        WHERE status = 'queued' AND run_after <= now()
        ORDER BY run_after, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE job
        SET status = 'running', attempts = job.attempts + 1, locked_by = :worker,
            locked_until = now() + make_interval(secs => :lease), updated_at = now()
        FROM due
        WHERE job.id = due.id
        RETURNING job.id, job.kind, job.payload, job.attempts, job.max_attempts, job.dedupe_key,
            job.delivery_id, job.last_error, job.run_after,
            (SELECT guid FROM delivery WHERE delivery.id = job.delivery_id) AS delivery_guid
    )
    SELECT settled.done_ids, claimed.*
    FROM (SELECT array_agg(id) AS done_ids FROM done) AS settled
    LEFT JOIN claimed ON true
    ORDER BY claimed.run_after, claimed.id
    """
)

_FAIL = sa.text(
    """
    UPDATE job SET status = 'failed', locked_until = NULL, last_error = :error,
        finished_at = now(), updated_at = now()
    WHERE id = :id AND status = 'running' AND locked_by = :worker AND attempts = :attempt
    """
)

# Back to the queue: for a retry the attempt stays counted (`uncount` = 0); for a reschedule
# or a release it is given back (`uncount` = 1).
_REQUEUE = sa.text(
    """
    UPDATE job SET status = 'queued', attempts = attempts - :uncount, run_after = :run_after,
        locked_until = NULL, locked_by = NULL, last_error = :error, updated_at = now()
    WHERE id = :id AND status = 'running' AND locked_by = :worker AND attempts = :attempt
    """
).bindparams(sa.bindparam("run_after", type_=sa.DateTime(timezone=True)))

_RELEASE = sa.text(
    """
    UPDATE job SET status = 'queued', attempts = attempts - 1, locked_until = NULL,
        locked_by = NULL, updated_at = now()
    WHERE id = ANY(:ids) AND status = 'running' AND locked_by = :worker
    """
)

_RENEW = sa.text(
    """
    UPDATE job SET locked_until = now() + make_interval(secs => :lease), updated_at = now()
    WHERE id = ANY(:ids) AND status = 'running' AND locked_by = :worker
    RETURNING id
    """
)

_RECOVER = sa.text(
    """
    UPDATE job
    SET status = 'queued', locked_until = NULL, locked_by = NULL, updated_at = now(),
        last_error = format(:template, job.attempts, COALESCE(job.locked_by, '?'))
    WHERE id IN (
        SELECT id FROM job WHERE status = 'running' AND locked_until < now()
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
    """
)

_SECONDS_UNTIL_DUE = sa.text(
    """
    SELECT EXTRACT(EPOCH FROM LEAST(
        (SELECT min(run_after) FROM job WHERE status = 'queued'),
        (SELECT min(locked_until) FROM job WHERE status = 'running')
    ) - now())
    """
)

_DELIVERY_FAILED = sa.text(
    """
    UPDATE delivery SET status = 'failed', handled_at = now(), error = :error
    WHERE id = :delivery_id
    """
)


@dataclass(frozen=True, kw_only=True)
class ClaimedJob:
    """A job as its handler sees it, leased to one worker for one attempt."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    locked_by: str
    dedupe_key: str | None = None
    delivery_id: int | None = None
    delivery_guid: str | None = None
    last_error: str | None = None
    run_after: datetime | None = None

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


@dataclass(frozen=True)
class Retry:
    """The job went back to the queue until `at` after a failed attempt."""

    at: datetime


@dataclass(frozen=True)
class GaveUp:
    """The job is `failed` for good."""

    error: str


def as_utc(moment: datetime) -> datetime:
    """Read a naive datetime as UTC, the database session's zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    delivery_id: int | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 5,
) -> int | None:
    """Add a job in the caller's transaction; None if a live job has the same dedupe_key.

    Idle workers are woken by a NOTIFY that Postgres delivers when the transaction commits.
    """
    if not kind:
        raise ValueError("a job needs a kind")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    conn = session.connection()
    job_id = conn.execute(
        _INSERT,
        {
            "kind": kind,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "delivery_id": delivery_id,
            "run_after": as_utc(run_after) if run_after is not None else None,
            "max_attempts": max_attempts,
        },
    ).scalar_one_or_none()
    if job_id is not None:
        conn.execute(_NOTIFY)
    return job_id


def periodic_dedupe_key(kind: str) -> str:
    return PERIODIC_KEY_PREFIX + kind


def ensure_periodic(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any] | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 5,
) -> int | None:
    """Start the chain of a periodic job kind unless a run of it is already live.

    One live instance exists across all replicas (dedupe key `periodic:<kind>`); when a run
    ends, `complete`/`fail` given `repeat_every` enqueue the next run in the same transaction.
    """
    return enqueue(
        session,
        kind=kind,
        payload=payload or {},
        dedupe_key=periodic_dedupe_key(kind),
        run_after=run_after,
        max_attempts=max_attempts,
    )


def claim(session: Session, *, worker: str, limit: int, lease: timedelta) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs to `worker`, oldest `run_after` first; counts an attempt."""
    return complete_and_claim(session, [], worker=worker, limit=limit, lease=lease)[1]


def complete(session: Session, job: ClaimedJob, *, repeat_every: timedelta | None = None) -> bool:
    """Mark a held job succeeded; False if the claim was lost (someone else owns it now)."""
    if job.id not in complete_many(session, [job]):
        return False
    _schedule_next(session, job, repeat_every)
    return True


def complete_many(session: Session, jobs: Sequence[ClaimedJob]) -> set[int]:
    """Mark held jobs succeeded in one statement; returns the ids whose claim was still held."""
    if not jobs:
        return set()
    return complete_and_claim(session, jobs, worker="", limit=0, lease=timedelta(0))[0]


def complete_and_claim(
    session: Session,
    done: Sequence[ClaimedJob],
    *,
    worker: str,
    limit: int,
    lease: timedelta,
) -> tuple[set[int], list[ClaimedJob]]:
    """Mark `done` succeeded and lease up to `limit` due jobs to `worker`, in one statement.

    Returns the ids of `done` whose claim was still held, and the jobs claimed.
    """
    if not done and limit < 1:
        return set(), []
    rows = (
        session.connection()
        .execute(
            _SETTLE_AND_CLAIM,
            {
                "ids": [job.id for job in done],
                "attempts": [job.attempt for job in done],
                "workers": [job.locked_by for job in done],
                "limit": max(limit, 0),
                "worker": worker,
                "lease": lease.total_seconds(),
            },
        )
        .all()
    )
    settled = set(rows[0].done_ids or ())
    claimed = [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            payload=row.payload,
            attempt=row.attempts,
            max_attempts=row.max_attempts,
            locked_by=worker,
            dedupe_key=row.dedupe_key,
            delivery_id=row.delivery_id,
            delivery_guid=row.delivery_guid,
            last_error=row.last_error,
            run_after=row.run_after,
        )
        for row in rows
        if row.id is not None
    ]
    return settled, claimed


def fail(
    session: Session,
    job: ClaimedJob,
    *,
    error: str,
    retry: bool = True,
    backoff: Backoff = DEFAULT_BACKOFF,
    repeat_every: timedelta | None = None,
) -> Retry | GaveUp | None:
    """Send a held job back with backoff, or fail it for good after its last attempt.

    Returns None if the claim was lost.
    """
    conn = session.connection()
    if retry and not job.is_last_attempt:
        at = datetime.now(UTC) + timedelta(seconds=backoff.delay(job.attempt, rand=random.random()))
        params = {**_held(job), "uncount": 0, "run_after": at, "error": error}
        return Retry(at) if conn.execute(_REQUEUE, params).rowcount else None
    if conn.execute(_FAIL, {**_held(job), "error": error}).rowcount == 0:
        return None
    if job.delivery_id is not None:
        conn.execute(_DELIVERY_FAILED, {"delivery_id": job.delivery_id, "error": error})
    _schedule_next(session, job, repeat_every)
    return GaveUp(error)


def reschedule(session: Session, job: ClaimedJob, *, at: datetime, reason: str) -> bool:
    """Put a held job back until `at` without counting the attempt (rate limits)."""
    params = {**_held(job), "uncount": 1, "run_after": as_utc(at), "error": reason}
    return bool(session.connection().execute(_REQUEUE, params).rowcount)


def release(session: Session, jobs: Sequence[ClaimedJob]) -> int:
    """Give held jobs back to the queue untouched (graceful stop); the attempt is not counted."""
    by_worker: dict[str, list[int]] = {}
    for job in jobs:
        by_worker.setdefault(job.locked_by, []).append(job.id)
    conn = session.connection()
    return sum(
        conn.execute(_RELEASE, {"ids": ids, "worker": worker}).rowcount
        for worker, ids in by_worker.items()
    )


def renew_leases(
    session: Session, *, worker: str, job_ids: Sequence[int], lease: timedelta
) -> set[int]:
    """Extend the leases `worker` still holds; returns the ids it still holds."""
    if not job_ids:
        return set()
    rows = session.connection().execute(
        _RENEW, {"ids": list(job_ids), "worker": worker, "lease": lease.total_seconds()}
    )
    return {row.id for row in rows}


def recover_expired(session: Session) -> list[int]:
    """Requeue running jobs whose lease has passed: their worker died or hung."""
    rows = session.connection().execute(_RECOVER, {"template": LEASE_EXPIRED_ERROR})
    return [row.id for row in rows]


def seconds_until_due(session: Session) -> float | None:
    """Seconds until a queued job becomes due or a lease expires (<= 0: now); None if neither."""
    value = session.connection().execute(_SECONDS_UNTIL_DUE).scalar_one()
    return None if value is None else float(value)


def _held(job: ClaimedJob) -> dict[str, Any]:
    return {"id": job.id, "worker": job.locked_by, "attempt": job.attempt}


def _schedule_next(session: Session, job: ClaimedJob, repeat_every: timedelta | None) -> None:
    if repeat_every is None:
        return
    enqueue(
        session,
        kind=job.kind,
        payload=job.payload,
        dedupe_key=job.dedupe_key or periodic_dedupe_key(job.kind),
        run_after=datetime.now(UTC) + repeat_every,
        max_attempts=job.max_attempts,
    )
