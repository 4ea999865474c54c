"""The worker against a real Postgres: real claims, real commits, real NOTIFY."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.core.backoff import Backoff
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.outcomes import UNKNOWN_KIND_ERROR
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import (
    JobContext,
    PermanentFailure,
    Registry,
    RetryLater,
)
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.worker import Worker
from tests.jobs.conftest import delivery_row, insert_delivery, job_row

log = logging.getLogger(__name__)

FAST_RETRY = Backoff(base_seconds=0.05, cap_seconds=0.2)


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "worker_concurrency": 4,
        "job_lease_seconds": 8.0,
        "worker_poll_seconds": 30.0,  # long: anything faster than this came through NOTIFY
        "worker_shutdown_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_worker(
    database_url: str, registry: Registry, *, name: str = "w", **overrides: Any
) -> Worker:
    settings = settings_for(database_url, **overrides)
    database = Database.from_url(database_url)
    context = JobContext(settings=settings, database=database, services={"name": name})
    return Worker(
        settings=settings, database=database, registry=registry, context=context, backoff=FAST_RETRY
    )


async def enqueue(database: Database, **kwargs: Any) -> int:
    def write() -> int:
        with database.session() as session:
            job_id = queue.enqueue(session, payload=kwargs.pop("payload", {}), **kwargs)
        assert job_id is not None
        return job_id

    return await asyncio.to_thread(write)


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def job_status(database: Database, job_id: int) -> str:
    return str(job_row(database, job_id).status)


async def running(*workers: Worker) -> list[asyncio.Task[None]]:
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    await eventually(lambda: all(worker.listening for worker in workers))
    return tasks


async def stop(workers: list[Worker], tasks: list[asyncio.Task[None]]) -> None:
    for worker in workers:
        worker.request_stop()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    for worker in workers:
        worker.database.dispose()


def scenario(coroutine: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coroutine())


def test_two_workers_run_every_job_exactly_once(database: Database, database_url: str) -> None:
    registry = Registry()
    runs: list[tuple[int, str]] = []

    @registry.job_handler("record")
    async def record(ctx: JobContext, job: ClaimedJob) -> None:
        runs.append((job.id, ctx.services["name"]))
        await asyncio.sleep(0.002)

    async def main() -> None:
        with database.session() as session:
            ids = [queue.enqueue(session, kind="record", payload={"n": n}) or 0 for n in range(100)]
        workers = [make_worker(database_url, registry, name=n) for n in ("a", "b")]
        tasks = await running(*workers)
        for n in range(100, 200):  # the rest arrive while both workers drain
            ids.append(await enqueue(database, kind="record", payload={"n": n}))
        await eventually(lambda: len(runs) >= 200)
        await asyncio.sleep(0.2)  # room for a duplicate to show up
        await stop(workers, tasks)

        assert sorted(job_id for job_id, _ in runs) == sorted(ids)
        by_worker = Counter(name for _, name in runs)
        assert by_worker["a"] > 0
        assert by_worker["b"] > 0
        with database.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, attempts FROM job")).all()
        assert Counter(map(tuple, rows)) == {("succeeded", 1): 200}

    scenario(main)


DOOMED_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from pangeo_forge_orchestrator.db.engine import Database
    from pangeo_forge_orchestrator.jobs.registry import Registry
    from pangeo_forge_orchestrator.settings import Settings
    from pangeo_forge_orchestrator.worker import Worker

    registry = Registry()

    @registry.job_handler("slow")
    async def slow(ctx, job):
        print("started", job.id, flush=True)
        await asyncio.sleep(3600)

    url = sys.argv[1]
    settings = Settings(_env_file=None, database_url=url, job_lease_seconds=1.0)
    asyncio.run(Worker(settings=settings, database=Database.from_url(url), registry=registry).run())
    """
)


def test_job_of_a_killed_worker_runs_again_after_its_lease(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    starts: list[float] = []

    @registry.job_handler("slow")
    async def slow(ctx: JobContext, job: ClaimedJob) -> None:
        starts.append(time.monotonic())

    async def main() -> None:
        job_id = await enqueue(database, kind="slow")
        doomed = subprocess.Popen(
            [sys.executable, "-c", DOOMED_WORKER, database_url],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            line = await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), 30)  # type: ignore[union-attr]
            assert line.split() == ["started", str(job_id)]
        finally:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
        killed_at = time.monotonic()
        survivor = make_worker(database_url, registry, job_lease_seconds=1.0)
        tasks = await running(survivor)
        await eventually(lambda: job_status(database, job_id) == "succeeded")
        await asyncio.sleep(0.3)
        await stop([survivor], tasks)

        assert len(starts) == 1
        log.info("killed worker's job re-claimed after %.2f s", starts[0] - killed_at)
        assert starts[0] - killed_at < 3.0  # lease 1 s, then the worker wakes at its expiry
        row = job_row(database, job_id)
        assert (row.status, row.attempts) == ("succeeded", 2)

    scenario(main)


def test_failing_job_retries_with_backoff_then_fails_with_last_error(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    attempts: list[int] = []

    @registry.job_handler("broken")
    async def broken(ctx: JobContext, job: ClaimedJob) -> None:
        attempts.append(job.attempt)
        raise ValueError(f"boom on attempt {job.attempt}")

    async def main() -> None:
        worker = make_worker(database_url, registry)
        tasks = await running(worker)
        delivery_id = await asyncio.to_thread(insert_delivery, database)
        job_id = await enqueue(database, kind="broken", max_attempts=3, delivery_id=delivery_id)
        await eventually(lambda: job_status(database, job_id) == "failed")
        await stop([worker], tasks)

        assert attempts == [1, 2, 3]
        row = job_row(database, job_id)
        assert row.attempts == 3
        assert row.last_error.startswith("ValueError: boom on attempt 3\n")
        assert "Traceback" in row.last_error
        delivery = delivery_row(database, delivery_id)
        assert delivery.status == "failed"
        assert delivery.error == row.last_error

    scenario(main)


def test_retry_later_reschedules_without_consuming_attempts(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    starts: list[float] = []

    @registry.job_handler("rate_limited")
    async def rate_limited(ctx: JobContext, job: ClaimedJob) -> None:
        starts.append(time.monotonic())
        if len(starts) < 3:
            raise RetryLater.after(timedelta(milliseconds=300), "secondary rate limit")

    async def main() -> None:
        worker = make_worker(database_url, registry)
        tasks = await running(worker)
        # One attempt only: a reschedule that counted would fail the job.
        job_id = await enqueue(database, kind="rate_limited", max_attempts=1)
        await eventually(lambda: job_status(database, job_id) == "succeeded")
        await stop([worker], tasks)

        assert len(starts) == 3
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        # On time without any NOTIFY (the poll is 30 s): the worker sleeps until run_after.
        assert all(0.28 < gap < 2.0 for gap in gaps), gaps
        assert job_row(database, job_id).attempts == 1

    scenario(main)


def test_permanent_failure_and_unknown_kind_fail_at_once(
    database: Database, database_url: str
) -> None:
    registry = Registry()

    @registry.job_handler("invalid")
    async def invalid(ctx: JobContext, job: ClaimedJob) -> None:
        raise PermanentFailure("meta.yaml has no recipes")

    async def main() -> None:
        worker = make_worker(database_url, registry)
        tasks = await running(worker)
        invalid_id = await enqueue(database, kind="invalid")
        unknown_id = await enqueue(database, kind="no_such_kind")
        await eventually(
            lambda: job_status(database, invalid_id) == job_status(database, unknown_id) == "failed"
        )
        await stop([worker], tasks)

        invalid_row, unknown_row = job_row(database, invalid_id), job_row(database, unknown_id)
        assert (invalid_row.attempts, invalid_row.last_error) == (1, "meta.yaml has no recipes")
        assert (unknown_row.attempts, unknown_row.last_error) == (
            1,
            UNKNOWN_KIND_ERROR.format(kind="no_such_kind"),
        )

    scenario(main)


def test_notify_wakes_an_idle_worker_at_once(database: Database, database_url: str) -> None:
    registry = Registry()
    started: dict[int, float] = {}

    @registry.job_handler("ping")
    async def ping(ctx: JobContext, job: ClaimedJob) -> None:
        started[job.id] = time.perf_counter()

    async def main() -> None:
        worker = make_worker(database_url, registry)
        tasks = await running(worker)
        latencies = []
        for _ in range(10):
            await asyncio.sleep(0.2)  # idle: the worker is waiting on its socket
            job_id = await enqueue(database, kind="ping")
            committed = time.perf_counter()
            await eventually(partial(started.__contains__, job_id), timeout=5)
            latencies.append(started[job_id] - committed)
        await stop([worker], tasks)

        latencies.sort()
        log.info(
            "enqueue->start: median %.1f ms, max %.1f ms", 1e3 * latencies[5], 1e3 * latencies[-1]
        )
        # The target is < 100 ms; the bound is loose so a busy CI box does not flake.
        assert latencies[-1] < 1.0

    scenario(main)


def test_graceful_stop_finishes_short_jobs_and_releases_the_rest(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    started: set[int] = set()

    @registry.job_handler("short")
    async def short(ctx: JobContext, job: ClaimedJob) -> None:
        started.add(job.id)
        await asyncio.sleep(0.3)

    @registry.job_handler("stuck")
    async def stuck(ctx: JobContext, job: ClaimedJob) -> None:
        started.add(job.id)
        await asyncio.Event().wait()

    async def main() -> None:
        worker = make_worker(database_url, registry, worker_shutdown_timeout_seconds=1.0)
        tasks = await running(worker)
        short_id = await enqueue(database, kind="short")
        stuck_id = await enqueue(database, kind="stuck")
        await eventually(lambda: {short_id, stuck_id} <= started)

        stop_requested = time.monotonic()
        worker.request_stop()
        late_id = await enqueue(database, kind="short")
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
        stopped_after = time.monotonic() - stop_requested
        worker.database.dispose()

        assert stopped_after < 3.0
        assert job_status(database, short_id) == "succeeded"
        stuck_row = job_row(database, stuck_id)
        assert (stuck_row.status, stuck_row.attempts, stuck_row.locked_by) == ("queued", 0, None)
        late_row = job_row(database, late_id)
        assert (late_row.status, late_row.attempts) == ("queued", 0)

    scenario(main)


def test_long_job_keeps_its_lease_against_other_workers(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    runs: list[str] = []

    @registry.job_handler("long")
    async def long(ctx: JobContext, job: ClaimedJob) -> None:
        runs.append(ctx.services["name"])
        await asyncio.sleep(1.5)

    async def main() -> None:
        workers = [
            make_worker(database_url, registry, name=name, job_lease_seconds=0.4)
            for name in ("a", "b")
        ]
        tasks = await running(*workers)
        job_id = await enqueue(database, kind="long")
        await eventually(lambda: job_status(database, job_id) == "succeeded")
        await stop(workers, tasks)

        assert len(runs) == 1
        assert job_row(database, job_id).attempts == 1

    scenario(main)


def test_worker_settles_the_delivery_and_logs_one_line_per_job(
    database: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry()

    @registry.job_handler("handle")
    async def handle(ctx: JobContext, job: ClaimedJob) -> None:
        return None

    async def main() -> None:
        worker = make_worker(database_url, registry)
        tasks = await running(worker)
        delivery_id = await asyncio.to_thread(insert_delivery, database, guid="guid-42")
        job_id = await enqueue(database, kind="handle", delivery_id=delivery_id)
        await eventually(lambda: delivery_row(database, delivery_id).status == "handled")
        await stop([worker], tasks)

        lines = [r for r in caplog.records if getattr(r, "job_id", None) == job_id]
        assert len(lines) == 1
        line = lines[0]
        assert (line.kind, line.delivery_guid, line.outcome, line.attempt) == (  # type: ignore[attr-defined]
            "handle",
            "guid-42",
            "succeeded",
            1,
        )
        assert line.duration_ms >= 0  # type: ignore[attr-defined]

    with caplog.at_level(logging.INFO, logger="pangeo_forge_orchestrator.worker"):
        scenario(main)


def test_periodic_kind_runs_at_start_and_schedules_its_next_run(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    ticks: list[int] = []

    @registry.job_handler("tick", every=timedelta(hours=1))
    async def tick(ctx: JobContext, job: ClaimedJob) -> None:
        ticks.append(job.id)

    async def main() -> None:
        workers = [make_worker(database_url, registry, name=n) for n in ("a", "b")]
        tasks = await running(*workers)
        await eventually(lambda: len(ticks) == 1)
        await asyncio.sleep(0.3)
        await stop(workers, tasks)

        with database.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, run_after FROM job ORDER BY id")).all()
        assert [row.status for row in rows] == ["succeeded", "queued"]
        assert timedelta(minutes=59) < rows[1].run_after - datetime.now(UTC) <= timedelta(hours=1)

    scenario(main)


def test_pfo_worker_command_waits_for_work_and_stops_on_sigterm(
    database: Database, database_url: str, tmp_path: Any
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "PFO_LOG_FORMAT": "json"}
    command = [sys.executable, "-m", "pangeo_forge_orchestrator", "worker"]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        with database.session() as session:
            job_id = queue.enqueue(session, kind="no_such_kind", payload={})
        assert job_id is not None
        deadline = time.monotonic() + 30
        while job_status(database, job_id) != "failed":  # it claims real work
            assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert '"msg": "worker stopped"' in process.stderr.read()  # type: ignore[union-attr]


def test_job_whose_worker_died_on_its_last_attempt_fails_without_running(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    runs: list[int] = []

    @registry.job_handler("poison")
    async def poison(ctx: JobContext, job: ClaimedJob) -> None:
        runs.append(job.id)

    async def main() -> None:
        job_id = await enqueue(database, kind="poison", max_attempts=1)
        with database.session() as session:  # a worker claims it, then dies
            queue.claim(session, worker="dead", limit=1, lease=timedelta(milliseconds=100))
        worker = make_worker(database_url, registry)
        tasks = await running(worker)
        await eventually(lambda: job_status(database, job_id) == "failed")
        await stop([worker], tasks)

        assert runs == []
        assert job_row(database, job_id).last_error == (
            "lease expired on attempt 1: worker dead was lost"
        )

    scenario(main)


def test_worker_listens_again_after_losing_its_connection(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    started: dict[int, float] = {}

    @registry.job_handler("ping")
    async def ping(ctx: JobContext, job: ClaimedJob) -> None:
        started[job.id] = time.perf_counter()

    def kill_listener() -> int:
        with database.engine.begin() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                ).all()
            )

    async def main() -> None:
        worker = make_worker(database_url, registry, worker_poll_seconds=0.5)
        tasks = await running(worker)
        assert await asyncio.to_thread(kill_listener) == 1
        await eventually(lambda: not worker.listening, timeout=5)
        await eventually(lambda: worker.listening, timeout=5)
        await asyncio.sleep(0.1)
        job_id = await enqueue(database, kind="ping")
        committed = time.perf_counter()
        await eventually(lambda: job_id in started, timeout=5)
        await stop([worker], tasks)

        # Well under the 0.5 s poll: NOTIFY works again on the new connection.
        assert started[job_id] - committed < 0.4

    scenario(main)


def test_worker_survives_losing_every_database_connection(
    database: Database, database_url: str
) -> None:
    registry = Registry()
    ran: list[int] = []

    @registry.job_handler("ping")
    async def ping(ctx: JobContext, job: ClaimedJob) -> None:
        ran.append(job.id)

    def kill_other_connections() -> int:
        with database.engine.begin() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )

    async def main() -> None:
        worker = make_worker(database_url, registry, worker_poll_seconds=0.5)
        tasks = await running(worker)
        first = await enqueue(database, kind="ping")
        await eventually(lambda: first in ran)
        assert await asyncio.to_thread(kill_other_connections) >= 2  # listener and claims
        second = await enqueue(database, kind="ping")
        await eventually(lambda: job_status(database, second) == "succeeded", timeout=10)
        await stop([worker], tasks)

        assert ran == [first, second]

    scenario(main)
