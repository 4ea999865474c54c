"""The periodic missed-delivery job: against the fake GitHub and a real inbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.adapters.github import GitHubApp
from pangeo_forge_orchestrator.core.backoff import Backoff
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.redeliver_missed import (
    EVERY,
    KIND,
    redeliver_missed_deliveries,
)
from pangeo_forge_orchestrator.jobs.registry import (
    REGISTRY,
    JobContext,
    PermanentFailure,
    Registry,
    RetryLater,
)
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.worker import Worker
from tests.conftest import github_app_settings
from tests.fake_github import FakeGitHub
from tests.jobs.conftest import insert_delivery

ATTEMPTS = "/app/hook/deliveries/{delivery_id}/attempts"


def claimed() -> ClaimedJob:
    return ClaimedJob(id=1, kind=KIND, payload={}, attempt=1, max_attempts=5, locked_by="test")


def context(fake: FakeGitHub, database: Database, **overrides: Any) -> JobContext:
    settings = github_app_settings(fake, database_url=str(database.engine.url))
    values: dict[str, Any] = {
        "settings": settings,
        "database": database,
        "github": GitHubApp(settings, transport=fake.transport),
        **overrides,
    }
    return JobContext(**values)


def test_kind_is_registered_as_periodic() -> None:
    kind = REGISTRY.get(KIND)
    assert kind is not None
    assert kind.handler is redeliver_missed_deliveries
    assert kind.every == EVERY == timedelta(minutes=10)


def test_failed_deliveries_missing_from_the_inbox_are_redelivered(
    fake_github: FakeGitHub, database: Database
) -> None:
    insert_delivery(database, guid="stored-guid")
    lost = fake_github.add_delivery("lost-guid", status_code=502)
    fake_github.add_delivery("stored-guid", status_code=504)
    fake_github.add_delivery("fine-guid", status_code=202)

    asyncio.run(redeliver_missed_deliveries(context(fake_github, database), claimed()))

    assert fake_github.redelivery_requests == [lost["id"]]


def test_rate_limit_becomes_retry_later_at_githubs_time(
    fake_github: FakeGitHub, database: Database
) -> None:
    fake_github.add_delivery("lost-guid")
    fake_github.secondary_rate_limit(retry_after=120, template=ATTEMPTS)
    before = datetime.now(UTC)

    with pytest.raises(RetryLater) as caught:
        asyncio.run(redeliver_missed_deliveries(context(fake_github, database), claimed()))

    wait = (caught.value.at - before).total_seconds()
    assert 119 <= wait <= 125
    assert fake_github.redelivery_requests == []


def test_without_a_github_app_the_job_does_nothing(database: Database) -> None:
    settings = Settings(_env_file=None, database_url=str(database.engine.url))
    ctx = JobContext(settings=settings, database=database, github=None)
    asyncio.run(redeliver_missed_deliveries(ctx, claimed()))  # no error, nothing to call


def test_configured_app_without_a_client_fails_loudly(
    fake_github: FakeGitHub, database: Database
) -> None:
    ctx = context(fake_github, database, github=None)
    with pytest.raises(PermanentFailure, match="no GitHub client"):
        asyncio.run(redeliver_missed_deliveries(ctx, claimed()))


def test_worker_starts_the_chain_reschedules_on_rate_limit_and_plans_the_next_run(
    fake_github: FakeGitHub, database: Database, database_url: str
) -> None:
    lost = fake_github.add_delivery("lost-guid")
    fake_github.secondary_rate_limit(retry_after=1, template=ATTEMPTS)
    registry = Registry()
    registry.job_handler(KIND, every=EVERY)(redeliver_missed_deliveries)

    async def main() -> None:
        settings = github_app_settings(
            fake_github,
            database_url=database_url,
            worker_poll_seconds=30.0,
            job_lease_seconds=8.0,
        )
        worker_db = Database.from_url(database_url)
        ctx = JobContext(
            settings=settings,
            database=worker_db,
            github=GitHubApp(settings, transport=fake_github.transport),
        )
        worker = Worker(
            settings=settings,
            database=worker_db,
            registry=registry,
            context=ctx,
            backoff=Backoff(base_seconds=0.05, cap_seconds=0.2),
        )
        task = asyncio.create_task(worker.run())
        try:
            await eventually(lambda: fake_github.redelivery_requests == [lost["id"]], timeout=15)
            await eventually(lambda: len(job_rows(database)) == 2)
        finally:
            worker.request_stop()
            await asyncio.wait_for(task, timeout=10)
            worker_db.dispose()

    asyncio.run(main())

    done, following = job_rows(database)
    assert (done.status, done.attempts) == ("succeeded", 1)  # the rate limit used no attempt
    assert following.status == "queued"
    assert following.run_after - done.finished_at >= EVERY - timedelta(seconds=1)
    attempts = fake_github.calls_to("POST", ATTEMPTS)
    assert [c.status for c in attempts] == [403, 202]


def job_rows(database: Database) -> list[Any]:
    with database.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT status, attempts, run_after, finished_at FROM job "
                    "WHERE kind = :kind ORDER BY id"
                ),
                {"kind": KIND},
            ).all()
        )


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
