"""Recording recipe runs straight in the database, and running every queued job kind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pangeo_forge_orchestrator.core.bakeries import default_registry
from pangeo_forge_orchestrator.core.runs import Transition
from pangeo_forge_orchestrator.core.vocabulary import RunStatus
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.db.bakeries import sync_bakeries
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.registry import (
    DeliveryIgnored,
    JobContext,
    PermanentFailure,
    discover,
)
from pangeo_forge_orchestrator.settings import Settings


def seed_run(
    database: Database,
    *,
    data_dir: Path,
    status: RunStatus = RunStatus.IN_PROGRESS,
    requested_by: str | None = "maintainer",
    since: datetime | None = None,
    bakery_job_id: str | None = None,
) -> int:
    """A test run of the default local bakery, queued or moved in progress at SINCE."""
    with database.session() as session:
        ids = sync_bakeries(session, default_registry(data_dir=data_dir))
        feedstock_id = db_runs.record_feedstock(session, "pangeo-forge/ocean-feedstock")
        run_id = db_runs.insert_run(
            session,
            feedstock_id=feedstock_id,
            bakery_id=ids["local"],
            recipe_id="ocean",
            head_sha="a" * 40,
            is_test=True,
            pr_number=None,
            requested_by=requested_by,
        )
        if status is RunStatus.IN_PROGRESS:
            db_runs.apply_transition(
                session,
                run_id,
                Transition(RunStatus.IN_PROGRESS, None),
                now=since or datetime.now(UTC),
            )
        if bakery_job_id is not None:
            db_runs.set_bake(session, run_id, job_name=f"run-{run_id}", job_id=bakery_job_id)
    return run_id


def run_state(database: Database, run_id: int) -> tuple[str, str | None, str | None]:
    with database.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, conclusion, message FROM recipe_run WHERE id = :id"),
            {"id": run_id},
        ).one()
    return (row.status, row.conclusion, row.message)


def jobs_of(database: Database, kind: str) -> list[Any]:
    with database.engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT * FROM job WHERE kind = :kind ORDER BY id"), {"kind": kind}
            )
        )


def drain(settings: Settings, database: Database, *, context: JobContext | None = None) -> None:
    """Claim and run queued jobs of every kind until none is left (a job failing ends failed)."""
    registry = discover()
    ctx = context or JobContext(settings=settings, database=database)

    async def run() -> None:
        while True:
            with database.session() as session:
                jobs = queue.claim(session, worker="test", limit=10, lease=timedelta(minutes=1))
            if not jobs:
                return
            for job in jobs:
                kind = registry.get(job.kind)
                assert kind is not None, job.kind
                try:
                    ended = await kind.handler(ctx, job)
                except PermanentFailure as failure:
                    with database.session() as session:
                        queue.fail(session, job, error=failure.reason, retry=False)
                else:
                    # As the worker does: an ignored delivery is marked with the job's success.
                    ignored = ended.reason if isinstance(ended, DeliveryIgnored) else None
                    with database.session() as session:
                        queue.complete(session, job, ignored=ignored)

    asyncio.run(run())
