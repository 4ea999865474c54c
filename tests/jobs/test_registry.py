from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import (
    JobContext,
    PermanentFailure,
    Registry,
    RetryLater,
    discover,
)
from pangeo_forge_orchestrator.settings import Settings


async def first(ctx: JobContext, job: ClaimedJob) -> None:
    return None


async def second(ctx: JobContext, job: ClaimedJob) -> None:
    return None


def test_a_kind_has_one_handler() -> None:
    registry = Registry()
    registry.job_handler("sync")(first)
    registry.job_handler("sync")(first)  # re-importing a module registers the same function

    with pytest.raises(ValueError, match="already has the handler"):
        registry.job_handler("sync")(second)
    kind = registry.get("sync")
    assert kind is not None
    assert kind.handler is first
    assert registry.get("other") is None


def test_periodic_kinds_are_listed_with_their_interval() -> None:
    registry = Registry()
    registry.job_handler("once")(first)
    registry.job_handler("tick", every=timedelta(minutes=10))(second)

    assert [(kind.name, kind.every) for kind in registry.periodic()] == [
        ("tick", timedelta(minutes=10))
    ]
    assert registry.names() == ["once", "tick"]
    with pytest.raises(ValueError, match="positive interval"):
        registry.job_handler("never", every=timedelta(0))


def test_discover_registers_the_kinds_of_the_jobs_package() -> None:
    from pangeo_forge_orchestrator.webhooks.inbox import HANDLE_DELIVERY

    assert HANDLE_DELIVERY in discover().names()


def test_retry_later_reads_naive_times_as_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)

    assert RetryLater(naive, "limit").at == naive.replace(tzinfo=UTC)
    later = RetryLater.after(timedelta(seconds=60), "Retry-After: 60")
    assert timedelta(seconds=59) < later.at - datetime.now(UTC) <= timedelta(seconds=60)
    assert str(later) == "Retry-After: 60"


def test_context_service_and_session(database: Database) -> None:
    ctx = JobContext(
        settings=Settings(_env_file=None),
        database=database,
        services={"bakeries": "the bakeries"},
    )
    assert ctx.service("bakeries") == "the bakeries"
    with pytest.raises(PermanentFailure, match="'runner' is not configured"):
        ctx.service("runner")

    def insert(session: Session) -> int:
        return int(
            session.execute(
                sa.text(
                    "INSERT INTO bakery (name, region, description, kind) "
                    "VALUES ('b', 'r', 'd', 'local') RETURNING id"
                )
            ).scalar_one()
        )

    bakery_id = asyncio.run(ctx.in_session(insert))

    with database.engine.connect() as conn:  # committed: another connection sees it
        names = conn.execute(sa.text("SELECT name FROM bakery WHERE id = :id"), {"id": bakery_id})
        assert names.scalar_one() == "b"
