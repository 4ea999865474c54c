"""The worker: claim jobs, run their handlers, then succeed, retry or fail.

- Wakes on `LISTEN pfo_jobs` (jobs/listener.py); otherwise sleeps until the next `run_after` or
  lease expiry it knows of, and at most `worker_poll_seconds` as a fallback for lost
  notifications. An idle worker issues one small query per poll interval, nothing more.
- Runs up to `worker_concurrency` handlers at once as asyncio tasks. Its own database calls go
  to a private two-thread pool (one for claims, one for lease renewals), so handlers that crowd
  the default thread pool never starve a claim or let a lease lapse.
- Each cycle settles the jobs that finished and claims new ones in ONE transaction: one commit
  per batch rather than two per job.
- Renews the leases it holds every quarter lease; requeues other workers' expired leases.
- On stop (SIGTERM via `request_stop` or `stopping`): claims nothing more, lets in-flight jobs
  finish for `worker_shutdown_timeout_seconds`, then cancels the rest and releases them to the
  queue without counting the attempt.
- Deliveries: the queue settles the delivery of a job that ends for good (`handled` on success
  unless its handler marked it `ignored`; `failed` with the error after the last attempt), so
  handlers only set `ignored` when they decide an event needs nothing.
- Logs one line per job: job_id, kind, delivery_guid (if any), outcome, duration_ms, attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from pangeo_forge_orchestrator.core.backoff import DEFAULT_BACKOFF, Backoff
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.listener import JobListener
from pangeo_forge_orchestrator.jobs.outcomes import (
    Failed,
    Finished,
    Settled,
    describe_error,
    execute,
    log_settled,
)
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, Registry, discover
from pangeo_forge_orchestrator.jobs.services import worker_context
from pangeo_forge_orchestrator.jobs.worker_db import Cycle, WorkerDatabase
from pangeo_forge_orchestrator.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Due work that we could not claim (another worker is claiming it) is looked at again this soon.
_MIN_WAIT_SECONDS = 0.05
_DB_ERROR_PAUSE_SECONDS = 1.0


class Worker:
    """Run jobs from the queue until asked to stop."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        registry: Registry | None = None,
        context: JobContext | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.settings = settings
        self.database = database
        self.registry = registry if registry is not None else discover()
        # os.environ reaches the bakeries (their ${VAR}s) and, filtered, the runner children.
        self.context = context or worker_context(settings, database, environ=os.environ)
        self.backoff = backoff
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._held: dict[int, ClaimedJob] = {}
        self._finished: list[Finished] = []
        self._listener = JobListener(database.engine, self._wake.set)
        self._executor: ThreadPoolExecutor | None = None
        self._db = WorkerDatabase(
            database=database,
            worker=self.name,
            registry=self.registry,
            backoff=backoff,
            lease=timedelta(seconds=settings.job_lease_seconds),
        )
        self._next_listen_attempt = 0.0

    @property
    def listening(self) -> bool:
        """Whether NOTIFY wakes this worker (else it is polling)."""
        return self._listener.active

    def request_stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pfo-worker-db")
        log.info(
            "worker started",
            extra={
                "worker": self.name,
                "concurrency": self.settings.worker_concurrency,
                "kinds": self.registry.names(),
            },
        )
        helpers = [
            asyncio.create_task(self._wake_on_stop()),
            asyncio.create_task(self._renew_leases_forever()),
        ]
        try:
            await self._work_until_stopped()
            await self._shut_down()
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._listener.close()
            self._executor.submit(self._db.close)
            self._executor.shutdown(wait=True)
        log.info("worker stopped", extra={"worker": self.name})

    async def _work_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            self._wake.clear()
            if self.stopping.is_set() and deadline is None:
                deadline = loop.time() + self.settings.worker_shutdown_timeout_seconds
                log.info(
                    "worker stopping", extra={"worker": self.name, "in_flight": len(self._tasks)}
                )
            if deadline is not None and (not self._tasks or loop.time() >= deadline):
                return
            await self._keep_listening(loop)
            wait = self.settings.worker_poll_seconds
            free = (
                0 if deadline is not None else self.settings.worker_concurrency - len(self._tasks)
            )
            finished, self._finished = self._finished, []
            if finished or free > 0:
                cycle = await self._run_cycle(finished, free)
                if cycle is None:
                    wait = _DB_ERROR_PAUSE_SECONDS
                else:
                    self._report(cycle.settled)
                    for job in cycle.claimed:
                        self._start(job)
                    if cycle.due_in is not None:
                        wait = min(wait, max(cycle.due_in, _MIN_WAIT_SECONDS))
            if deadline is not None:
                wait = min(wait, max(deadline - loop.time(), 0.0))
            if not self._wake.is_set():
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _run_cycle(self, finished: list[Finished], free: int) -> Cycle | None:
        """Settle and claim in one transaction; None after a database error (outcomes kept)."""
        try:
            return await self._in_db(self._db.cycle, finished, free)
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            log.warning("database unavailable; retrying", exc_info=True)
            self._finished = finished + self._finished
            return None
        except Exception:
            # One outcome that cannot be written must not block the others: settle one by one.
            log.exception("worker cycle failed; settling the finished jobs one by one")
            settled = await self._in_db(self._db.settle_each, finished)
            self._report(settled)
            return None

    def _report(self, settled: list[Settled]) -> None:
        for item in settled:
            self._held.pop(item.finished.job.id, None)
        log_settled(settled)

    def _start(self, job: ClaimedJob) -> None:
        self._held[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")

    async def _run_job(self, job: ClaimedJob) -> None:
        started = time.perf_counter()
        escaping: BaseException | None = None
        try:
            result = await execute(self.registry, self.context, job)
        except asyncio.CancelledError:
            raise  # stopping: the job is released, not settled
        except BaseException as error:
            # SystemExit or KeyboardInterrupt from a handler: record the attempt, then let it end
            # the process, rather than holding (and renewing) this job's lease forever.
            result, escaping = Failed(describe_error(error), retry=True), error
        finally:
            self._tasks.pop(job.id, None)
        duration_ms = (time.perf_counter() - started) * 1000
        self._finished.append(Finished(job, result, duration_ms))
        self._wake.set()
        if escaping is not None:
            raise escaping

    async def _shut_down(self) -> None:
        """Cancel what is still running, then record what finished and release the rest."""
        running = list(self._tasks.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=1.0)
        finished, self._finished = self._finished, []
        done_ids = {item.job.id for item in finished}
        unfinished = [job for job_id, job in self._held.items() if job_id not in done_ids]
        if not finished and not unfinished:
            return
        try:
            settled = await self._in_db(self._db.settle_and_release, finished, unfinished)
        except Exception:
            log.exception("could not release jobs at stop; their leases will lapse")
            return
        self._report(settled)

    async def _renew_leases_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.job_lease_seconds / 4)
            if not self._held:
                continue
            try:
                await self._in_db(self._db.renew, list(self._held))
            except Exception:  # the next beat tries again; the lease has slack
                log.warning("lease renewal failed", exc_info=True)

    async def _keep_listening(self, loop: asyncio.AbstractEventLoop) -> None:
        """(Re)open the LISTEN connection; until it works, polling carries on alone."""
        if self._listener.active or loop.time() < self._next_listen_attempt:
            return
        self._next_listen_attempt = loop.time() + self.settings.worker_poll_seconds
        try:
            await self._in_db(self._listener.connect)
        except Exception:  # polling still finds the work, only later
            log.warning("cannot LISTEN for jobs; polling instead", exc_info=True)
            self._listener.close()
            return
        self._listener.attach(loop)

    async def _wake_on_stop(self) -> None:
        await self.stopping.wait()
        self._wake.set()

    async def _in_db(self, work: Callable[..., T], *args: Any) -> T:
        assert self._executor is not None, "the worker is not running"
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, partial(work, *args)
        )
