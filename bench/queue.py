"""Job queue (issue 3): no-op throughput, enqueue->start latency, stalled-job re-claim time.

`uv run --frozen python -m bench.queue` does it all on a fresh database of an embedded Postgres
(or of the server at $DATABASE_URL's host with --database-url):

1. throughput: N no-op jobs enqueued in one transaction, drained by one worker alone
   (target >= 2,000 jobs/s);
2. latency: one job per transaction at an offered rate to an idle worker, from the commit to
   the handler's first line (target p99 <= 100 ms);
3. re-claim: a worker subprocess takes a job and is killed with SIGKILL; time until a live
   worker starts it again, with the default lease (target <= 10 s).

Prints a markdown table and writes the raw numbers to bench/results/queue-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import Database, make_engine
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, Registry
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.worker import Worker

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DATABASE = "pfo_bench_queue"
TARGETS = {"jobs_per_s": 2000.0, "latency_p99_ms": 100.0, "reclaim_s": 10.0}


def fresh_database(admin_url: str) -> str:
    """A database of our own at head, beside the one `admin_url` names."""
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = sa.make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(_env_file=None, database_url=url, **overrides)


def clear_jobs(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE job"))


async def run_worker(worker: Worker) -> asyncio.Task[None]:
    task = asyncio.create_task(worker.run())
    while not worker.listening:
        await asyncio.sleep(0.01)
    return task


async def stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
    worker.request_stop()
    await asyncio.wait_for(task, 30)


async def throughput(url: str, *, jobs: int, concurrency: int) -> dict[str, Any]:
    """Drain `jobs` no-op jobs with one worker; jobs/s from the first start to the last commit."""
    registry = Registry()
    starts: list[float] = []
    all_started = asyncio.Event()

    @registry.job_handler("noop")
    async def noop(ctx: JobContext, job: ClaimedJob) -> None:
        # Counted in memory: polling the table while it drains would slow the drain down.
        starts.append(time.perf_counter())
        if len(starts) == jobs:
            all_started.set()

    database = Database.from_url(url)
    clear_jobs(database)
    with database.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO job (kind) SELECT 'noop' FROM generate_series(1, :n)"), {"n": jobs}
        )
    settings = settings_for(url, worker_concurrency=concurrency)
    worker = Worker(settings=settings, database=database, registry=registry)
    task = await run_worker(worker)
    await all_started.wait()

    def remaining() -> int:
        with database.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM job WHERE status <> 'succeeded'")
                ).scalar_one()
            )

    while await asyncio.to_thread(remaining):
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - starts[0]
    await stop_worker(worker, task)
    database.dispose()
    return {
        "jobs": jobs,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "jobs_per_s": round(jobs / elapsed, 1),
    }


async def latency(url: str, *, samples: int, rate: float) -> dict[str, Any]:
    """Enqueue one job per transaction at `rate`/s; commit -> handler start, per job."""
    registry = Registry()
    started: dict[int, float] = {}

    @registry.job_handler("ping")
    async def ping(ctx: JobContext, job: ClaimedJob) -> None:
        started[job.id] = time.perf_counter()

    database = Database.from_url(url)
    clear_jobs(database)
    worker = Worker(settings=settings_for(url), database=database, registry=registry)
    task = await run_worker(worker)
    committed: dict[int, float] = {}

    def enqueue_one() -> None:
        with database.session() as session:
            job_id = queue.enqueue(session, kind="ping", payload={})
        assert job_id is not None
        committed[job_id] = time.perf_counter()

    next_at = time.perf_counter()
    for _ in range(samples):
        await asyncio.to_thread(enqueue_one)
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    while len(started) < samples:
        await asyncio.sleep(0.05)
    await stop_worker(worker, task)
    database.dispose()
    millis = sorted(1e3 * (started[job_id] - at) for job_id, at in committed.items())
    return {
        "samples": samples,
        "rate_per_s": rate,
        "p50_ms": round(statistics.median(millis), 2),
        "p99_ms": round(millis[int(0.99 * (len(millis) - 1))], 2),
        "max_ms": round(millis[-1], 2),
    }


async def reclaim(url: str) -> dict[str, Any]:
    """Kill a worker holding a job (SIGKILL); seconds until a live worker starts it again."""
    registry = Registry()
    restarted: list[float] = []

    @registry.job_handler("slow")
    async def slow(ctx: JobContext, job: ClaimedJob) -> None:
        restarted.append(time.perf_counter())

    database = Database.from_url(url)
    clear_jobs(database)
    with database.session() as session:
        queue.enqueue(session, kind="slow", payload={})
    doomed = subprocess.Popen(
        [sys.executable, "-m", "bench.queue", "--doomed-worker", url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert doomed.stdout is not None
    line = await asyncio.to_thread(doomed.stdout.readline)
    assert line.startswith("started"), line
    # The live worker is idle and listening before the kill, as in production.
    worker = Worker(settings=settings_for(url), database=database, registry=registry)
    task = await run_worker(worker)
    doomed.send_signal(signal.SIGKILL)
    killed_at = time.perf_counter()
    doomed.wait()
    while not restarted:
        await asyncio.sleep(0.01)
    await stop_worker(worker, task)
    database.dispose()
    settings = settings_for(url)
    return {
        "lease_s": settings.job_lease_seconds,
        "reclaim_s": round(restarted[0] - killed_at, 2),
    }


def doomed_worker(url: str) -> None:
    """A worker whose only job never ends; the benchmark kills it."""
    registry = Registry()

    @registry.job_handler("slow")
    async def slow(ctx: JobContext, job: ClaimedJob) -> None:
        print("started", job.id, flush=True)
        await asyncio.sleep(3600)

    worker = Worker(settings=settings_for(url), database=Database.from_url(url), registry=registry)
    asyncio.run(worker.run())


def report(results: dict[str, Any]) -> str:
    t, lat, rc = results["throughput"], results["latency"], results["reclaim"]
    rows = [
        ("no-op jobs/s, one worker alone", f"{t['jobs_per_s']:,.0f}", ">= 2,000",
         t["jobs_per_s"] >= TARGETS["jobs_per_s"]),
        ("enqueue->start p50 (ms)", f"{lat['p50_ms']}", "", True),
        ("enqueue->start p99 (ms)", f"{lat['p99_ms']}", "<= 100",
         lat["p99_ms"] <= TARGETS["latency_p99_ms"]),
        ("stalled job re-claimed after (s)", f"{rc['reclaim_s']}", "<= 10",
         rc["reclaim_s"] <= TARGETS["reclaim_s"]),
    ]  # fmt: skip
    lines = ["| measure | value | target | met |", "|---|---|---|---|"]
    for name, value, target, met in rows:
        lines.append(f"| {name} | {value} | {target} | {'yes' if met else 'NO'} |")
    details = (
        f"\n{t['jobs']:,} jobs at concurrency {t['concurrency']} in {t['seconds']} s; "
        f"{lat['samples']} latency samples offered at {lat['rate_per_s']}/s "
        f"(max {lat['max_ms']} ms); lease {rc['lease_s']} s."
    )
    return "\n".join(lines) + details


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "throughput": await throughput(url, jobs=args.jobs, concurrency=args.concurrency),
        "latency": await latency(url, samples=args.samples, rate=args.rate),
        "reclaim": await reclaim(url),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument(
        "--concurrency", type=int, default=Settings.model_fields["worker_concurrency"].default
    )
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--database-url", help="an admin URL of a Postgres server to use instead")
    parser.add_argument("--doomed-worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.doomed_worker:
        doomed_worker(args.doomed_worker)
        return

    with tempfile.TemporaryDirectory(prefix="pfo-bench-queue-") as tmp:
        server = None
        if args.database_url:
            url = fresh_database(args.database_url)
        else:
            Path(tmp).chmod(0o755)  # the embedded server runs as its own user
            server = EmbeddedPostgres(Path(tmp) / "pgdata")
            url = fresh_database(server.url())
        try:
            results = asyncio.run(measure(url, args))
        finally:
            if server is not None:
                server.release()
    results["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(report(results))
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"queue-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"raw numbers: {path}")


if __name__ == "__main__":
    main()
