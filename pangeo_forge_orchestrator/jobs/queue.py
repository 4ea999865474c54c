"""The durable job queue on the `job` table: enqueue, claim, settle, lease and recover.

- `enqueue` writes in the caller's transaction (outbox) and NOTIFYs `pfo_jobs` at its commit.
- `claim` takes due jobs with FOR UPDATE SKIP LOCKED and leases them until `locked_until`;
  `renew_leases` keeps a long job's lease alive; `recover_expired` puts a job whose worker died
  back in the queue (the lost attempt counts, so a job that kills its worker cannot loop).
- `complete`, `fail`, `reschedule` and `release` settle a claim; each only acts while the caller
  still holds the claim (same `locked_by` and attempt), so a worker that lost its lease cannot
  overwrite the outcome of the worker that took the job over. `complete_and_claim` settles a
  batch of successes and claims the next jobs in one statement (the worker's hot path).
- A job ending for good (succeeded or failed) settles its delivery in the same statement:
  `handled` on success, or `ignored` with the reason its handler gave; `failed` with the error
  after the last attempt.

Every function takes the caller's Session and never commits.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.backoff import DEFAULT_BACKOFF, Backoff
from pangeo_forge_orchestrator.jobs import queue_sql as sql
from pangeo_forge_orchestrator.jobs.queue_sql import NOTIFY_CHANNEL as NOTIFY_CHANNEL
from pangeo_forge_orchestrator.jobs.queue_sql import PREPARED_SETTLE_AND_CLAIM

PERIODIC_KEY_PREFIX = "periodic:"
# A Postgres format() template: the attempt, then the worker that held the lease.
LEASE_EXPIRED_ERROR = "lease expired on attempt %s: worker %s was lost"


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
    # The delivery's stored columns (None without a delivery), claimed with the job so that a
    # delivery can be screened without a query.
    delivery_event: str | None = None
    delivery_action: str | None = None
    delivery_installation_id: int | None = None
    delivery_repository: str | None = None

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
        sql.INSERT_JOB,
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
        conn.execute(sql.NOTIFY)
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


def complete(
    session: Session,
    job: ClaimedJob,
    *,
    repeat_every: timedelta | None = None,
    ignored: str | None = None,
) -> bool:
    """Mark a held job succeeded; False if the claim was lost (someone else owns it now).

    `ignored`: why the job's delivery needed nothing (it is marked `ignored`, not `handled`).
    """
    reasons = {job.id: ignored} if ignored is not None else {}
    if job.id not in complete_many(session, [job], ignored=reasons):
        return False
    _schedule_next(session, job, repeat_every)
    return True


def complete_many(
    session: Session, jobs: Sequence[ClaimedJob], *, ignored: Mapping[int, str] | None = None
) -> set[int]:
    """Mark held jobs succeeded in one statement; returns the ids whose claim was still held."""
    if not jobs:
        return set()
    return complete_and_claim(
        session, jobs, ignored=ignored, worker="", limit=0, lease=timedelta(0)
    )[0]


def complete_and_claim(
    session: Session,
    done: Sequence[ClaimedJob],
    *,
    worker: str,
    limit: int,
    lease: timedelta,
    ignored: Mapping[int, str] | None = None,
    prepared: bool = False,
) -> tuple[set[int], list[ClaimedJob]]:
    """Mark `done` succeeded and lease up to `limit` due jobs to `worker`, in one statement.

    Each succeeded job's delivery is marked `handled`, or `ignored` with the reason given for
    its job id in `ignored`. Returns the ids of `done` whose claim was still held, and the jobs
    claimed. `prepared`: run the statement PREPAREd on this connection by
    `prepare_settle_and_claim`.
    """
    reasons = ignored or {}
    if not done and limit < 1:
        return set(), []
    rows = (
        session.connection()
        .execute(
            sql.EXECUTE_SETTLE_AND_CLAIM if prepared else sql.SETTLE_AND_CLAIM,
            {
                "ids": [job.id for job in done],
                "attempts": [job.attempt for job in done],
                "workers": [job.locked_by for job in done],
                "ignored": [reasons.get(job.id) for job in done],
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
            delivery_event=row.delivery_event,
            delivery_action=row.delivery_action,
            delivery_installation_id=row.delivery_installation_id,
            delivery_repository=row.delivery_repository,
        )
        for row in rows
        if row.id is not None
    ]
    return settled, claimed


def prepare_settle_and_claim(connection: sa.Connection) -> None:
    """PREPARE the settle-and-claim statement on a connection that a worker keeps to itself.

    Its plan is generic (it does not depend on the values), so it is made once, not per batch.
    The connection must not go back to a pool afterwards: invalidate it when done.
    """
    exists = connection.execute(
        sa.text("SELECT 1 FROM pg_prepared_statements WHERE name = :name"),
        {"name": PREPARED_SETTLE_AND_CLAIM},
    ).first()
    if exists:
        return
    connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(sql.PREPARE_SETTLE_AND_CLAIM)


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
        return Retry(at) if conn.execute(sql.REQUEUE, params).rowcount else None
    if conn.execute(sql.FAIL, {**_held(job), "error": error}).rowcount == 0:
        return None
    if job.delivery_id is not None:
        conn.execute(sql.DELIVERY_FAILED, {"delivery_id": job.delivery_id, "error": error})
    _schedule_next(session, job, repeat_every)
    return GaveUp(error)


def reschedule(session: Session, job: ClaimedJob, *, at: datetime, reason: str) -> bool:
    """Put a held job back until `at` without counting the attempt (rate limits)."""
    params = {**_held(job), "uncount": 1, "run_after": as_utc(at), "error": reason}
    return bool(session.connection().execute(sql.REQUEUE, params).rowcount)


def release(session: Session, jobs: Sequence[ClaimedJob]) -> int:
    """Give held jobs back to the queue untouched (graceful stop); the attempt is not counted."""
    by_worker: dict[str, list[int]] = {}
    for job in jobs:
        by_worker.setdefault(job.locked_by, []).append(job.id)
    conn = session.connection()
    return sum(
        conn.execute(sql.RELEASE, {"ids": ids, "worker": worker}).rowcount
        for worker, ids in by_worker.items()
    )


def renew_leases(
    session: Session, *, worker: str, job_ids: Sequence[int], lease: timedelta
) -> set[int]:
    """Extend the leases `worker` still holds; returns the ids it still holds."""
    if not job_ids:
        return set()
    rows = session.connection().execute(
        sql.RENEW, {"ids": list(job_ids), "worker": worker, "lease": lease.total_seconds()}
    )
    return {row.id for row in rows}


def recover_expired(session: Session) -> list[int]:
    """Requeue running jobs whose lease has passed: their worker died or hung."""
    rows = session.connection().execute(sql.RECOVER, {"template": LEASE_EXPIRED_ERROR})
    return [row.id for row in rows]


def seconds_until_due(session: Session) -> float | None:
    """Seconds until a queued job becomes due or a lease expires (<= 0: now); None if neither."""
    value = session.connection().execute(sql.SECONDS_UNTIL_DUE).scalar_one()
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
