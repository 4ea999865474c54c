"""The worker's database side: the blocking calls it makes from its own threads.

The common cycle (jobs succeeded, claim the next ones) is one statement in autocommit on a
connection the worker keeps: one round trip and one commit, no pool checkout or ping. Anything
else (failures, retries, periodic runs, lease recovery, the release at stop) takes a pooled
session and one transaction. Lease renewal runs beside the main loop on a pooled connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.backoff import Backoff
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.outcomes import (
    Finished,
    Settled,
    ignored_reasons,
    released,
    settle_all,
    settled_successes,
    split_plain_successes,
)
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import Registry

log = logging.getLogger("pangeo_forge_orchestrator.worker")

# Looking for expired leases is cheap, but not worth doing on every cycle of a busy worker.
_RECOVERY_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class Cycle:
    settled: list[Settled]
    claimed: list[ClaimedJob]
    # Seconds until the next run_after or lease expiry, when the claim found too little work.
    due_in: float | None


class WorkerDatabase:
    """Settle, claim, release and renew for one worker named `worker`."""

    def __init__(
        self,
        *,
        database: Database,
        worker: str,
        registry: Registry,
        backoff: Backoff,
        lease: timedelta,
    ) -> None:
        self.database = database
        self.worker = worker
        self.registry = registry
        self.backoff = backoff
        self.lease = lease
        self._connection: sa.Connection | None = None
        self._next_recovery = 0.0
        self._periodic_started = False

    def cycle(self, finished: list[Finished], free: int) -> Cycle:
        """Settle finished jobs and claim up to `free` new ones, atomically."""
        plain, others = split_plain_successes(finished, self.registry)
        recovery_due = free > 0 and time.monotonic() >= self._next_recovery
        if not others and not recovery_due and self._periodic_started:
            return self._settle_and_claim(plain, free)
        with self.database.session() as session:
            if not self._periodic_started:
                for kind in self.registry.periodic():
                    queue.ensure_periodic(session, kind=kind.name)
            settled = self._settle(session, finished)
            claimed: list[ClaimedJob] = []
            due_in = None
            if free > 0:
                if recovery_due:
                    self._next_recovery = time.monotonic() + _RECOVERY_EVERY_SECONDS
                    recovered = queue.recover_expired(session)
                    if recovered:
                        log.warning(
                            "requeued jobs whose lease expired", extra={"job_ids": recovered}
                        )
                claimed = queue.claim(session, worker=self.worker, limit=free, lease=self.lease)
                if len(claimed) < free:
                    due_in = queue.seconds_until_due(session)
        self._periodic_started = True
        return Cycle(settled=settled, claimed=claimed, due_in=due_in)

    def _settle_and_claim(self, plain: list[Finished], free: int) -> Cycle:
        with self._autocommit() as session:
            done, claimed = queue.complete_and_claim(
                session,
                [item.job for item in plain],
                ignored=ignored_reasons(plain),
                worker=self.worker,
                limit=free,
                lease=self.lease,
            )
            due_in = queue.seconds_until_due(session) if len(claimed) < free else None
        return Cycle(settled=settled_successes(plain, done), claimed=claimed, due_in=due_in)

    def settle_each(self, finished: list[Finished]) -> list[Settled]:
        """Settle jobs one transaction each, so that one that cannot be written spares the rest."""
        settled = []
        for item in finished:
            try:
                with self.database.session() as session:
                    settled += self._settle(session, [item])
            except Exception:
                # Its lease will lapse and another attempt will run: at-least-once holds.
                log.exception("could not record a job's outcome", extra={"job_id": item.job.id})
                settled.append(Settled(item, "settle_error"))
        return settled

    def settle_and_release(
        self, finished: list[Finished], unfinished: list[ClaimedJob]
    ) -> list[Settled]:
        """At stop: settle what finished, give the rest back without counting the attempt."""
        with self.database.session() as session:
            settled = self._settle(session, finished)
            queue.release(session, unfinished)
        return settled + [released(job) for job in unfinished]

    def renew(self, job_ids: list[int]) -> set[int]:
        with self.database.session() as session:
            return queue.renew_leases(
                session, worker=self.worker, job_ids=job_ids, lease=self.lease
            )

    def close(self) -> None:
        if self._connection is not None:
            try:
                # Its prepared statement and settings must not follow it back into the pool.
                self._connection.invalidate()
                self._connection.close()
            finally:
                self._connection = None

    def _settle(self, session: Session, finished: list[Finished]) -> list[Settled]:
        return settle_all(session, finished, registry=self.registry, backoff=self.backoff)

    @contextmanager
    def _autocommit(self) -> Iterator[Session]:
        """A session on the kept autocommit connection; any error drops the connection."""
        if self._connection is None:
            connection = self.database.engine.connect()
            self._connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            queue.prepare_settle_and_claim(self._connection)
        try:
            with Session(bind=self._connection) as session:
                yield session
        except BaseException:
            self.close()
            raise
