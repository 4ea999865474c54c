"""Named queries of the recipe-run workflows: feedstocks, recipe runs, and what GitHub told us.

Every function takes the caller's Session and never commits, so a run and the job that follows
it are written in one transaction (the outbox). Runs come back as `core.runs.RunRecord`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.runs import RunRecord, Transition
from pangeo_forge_orchestrator.core.vocabulary import (
    DatasetType,
    Provider,
    RunConclusion,
    RunStatus,
)
from pangeo_forge_orchestrator.db.tables import (
    Bakery,
    Delivery,
    Feedstock,
    Installation,
    Job,
    RecipeRun,
)

RUNS = RecipeRun.__table__  # type: ignore[attr-defined]
FEEDSTOCKS = Feedstock.__table__  # type: ignore[attr-defined]
BAKERIES = Bakery.__table__  # type: ignore[attr-defined]
DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
INSTALLATIONS = Installation.__table__  # type: ignore[attr-defined]
JOBS = Job.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunWithFeedstock:
    run: RunRecord
    feedstock_spec: str


def _run_select() -> sa.Select[Any]:
    return sa.select(RUNS, BAKERIES.c.name.label("bakery_name"), FEEDSTOCKS.c.spec).select_from(
        RUNS.join(BAKERIES, BAKERIES.c.id == RUNS.c.bakery_id).join(
            FEEDSTOCKS, FEEDSTOCKS.c.id == RUNS.c.feedstock_id
        )
    )


def _record(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        feedstock_id=row.feedstock_id,
        recipe_id=row.recipe_id,
        head_sha=row.head_sha,
        bakery=row.bakery_name,
        status=RunStatus(row.status),
        conclusion=RunConclusion(row.conclusion) if row.conclusion is not None else None,
        is_test=row.is_test,
        pr_number=row.pr_number,
        requested_by=row.requested_by,
        check_run_id=row.github_check_run_id,
        deployment_id=row.github_deployment_id,
        dataset_type=DatasetType(row.dataset_type) if row.dataset_type is not None else None,
        dataset_public_url=row.dataset_public_url,
        message=row.failure_detail or row.message,
    )


def _records(rows: Iterable[Any]) -> tuple[RunRecord, ...]:
    return tuple(_record(row) for row in rows)


# -- feedstocks and bakeries ------------------------------------------------------------------
def record_feedstock(session: Session, spec: str) -> int:
    """Insert the feedstock unless present (unique spec); return its id."""
    session.execute(
        insert(FEEDSTOCKS)
        .values(spec=spec, provider=Provider.GITHUB.value)
        .on_conflict_do_nothing(index_elements=[FEEDSTOCKS.c.spec])
    )
    feedstock_id: int = session.execute(
        sa.select(FEEDSTOCKS.c.id).where(FEEDSTOCKS.c.spec == spec)
    ).scalar_one()
    return feedstock_id


def bakery_id(session: Session, name: str) -> int | None:
    found: int | None = session.execute(
        sa.select(BAKERIES.c.id).where(BAKERIES.c.name == name)
    ).scalar_one_or_none()
    return found


def lock_key(session: Session, key: str) -> None:
    """Serialise check-then-insert on KEY until the transaction ends (redeliveries race)."""
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key))))


# -- recipe runs ------------------------------------------------------------------------------
def get_run(session: Session, run_id: int) -> RunWithFeedstock | None:
    row = session.execute(_run_select().where(RUNS.c.id == run_id)).one_or_none()
    return None if row is None else RunWithFeedstock(run=_record(row), feedstock_spec=row.spec)


def runs_at(
    session: Session, *, feedstock_spec: str, head_sha: str, is_test: bool
) -> tuple[RunRecord, ...]:
    """Every attempt of every recipe of a feedstock at one sha, oldest first."""
    rows = session.execute(
        _run_select()
        .where(FEEDSTOCKS.c.spec == feedstock_spec)
        .where(RUNS.c.head_sha == head_sha)
        .where(RUNS.c.is_test.is_(is_test))
        .order_by(RUNS.c.id)
    )
    return _records(rows)


def pull_request_runs(
    session: Session, *, feedstock_spec: str, pr_number: int
) -> tuple[RunRecord, ...]:
    """A pull request's test runs at every sha, oldest first."""
    rows = session.execute(
        _run_select()
        .where(FEEDSTOCKS.c.spec == feedstock_spec)
        .where(RUNS.c.pr_number == pr_number)
        .where(RUNS.c.is_test.is_(True))
        .order_by(RUNS.c.id)
    )
    return _records(rows)


def insert_run(
    session: Session,
    *,
    feedstock_id: int,
    bakery_id: int,
    recipe_id: str,
    head_sha: str,
    is_test: bool,
    pr_number: int | None,
    requested_by: str | None,
) -> int:
    run_id: int = session.execute(
        sa.insert(RUNS)
        .values(
            feedstock_id=feedstock_id,
            bakery_id=bakery_id,
            recipe_id=recipe_id,
            head_sha=head_sha,
            is_test=is_test,
            pr_number=pr_number,
            requested_by=requested_by,
            status=RunStatus.QUEUED.value,
            dataset_type=DatasetType.ZARR.value,
        )
        .returning(RUNS.c.id)
    ).scalar_one()
    return run_id


def lock_run(session: Session, run_id: int) -> RunWithFeedstock | None:
    """Read a run FOR UPDATE: its state changes are decided one at a time."""
    session.execute(sa.select(RUNS.c.id).where(RUNS.c.id == run_id).with_for_update())
    return get_run(session, run_id)


def apply_transition(
    session: Session,
    run_id: int,
    transition: Transition,
    *,
    now: datetime,
    message: str | None = None,
    failure_detail: str | None = None,
    dataset_public_url: str | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": transition.status.value,
        "conclusion": transition.conclusion.value if transition.conclusion else None,
        "updated_at": now,
    }
    if transition.status is RunStatus.COMPLETED:
        values["completed_at"] = now
    if message is not None:
        values["message"] = message
    if failure_detail is not None:
        values["failure_detail"] = failure_detail
    if dataset_public_url is not None:
        values["dataset_public_url"] = dataset_public_url
    session.execute(sa.update(RUNS).where(RUNS.c.id == run_id).values(**values))


def request_run(session: Session, run_id: int, *, requested_by: str) -> bool:
    """Mark a queued run as asked for; False when someone asked first or it left `queued`."""
    result = session.execute(
        sa.update(RUNS)
        .where(RUNS.c.id == run_id)
        .where(RUNS.c.status == RunStatus.QUEUED.value)
        .where(RUNS.c.requested_by.is_(None))
        .values(requested_by=requested_by)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_check_run(session: Session, run_id: int, check_run_id: int) -> None:
    session.execute(
        sa.update(RUNS).where(RUNS.c.id == run_id).values(github_check_run_id=check_run_id)
    )


def set_deployment(
    session: Session, run_id: int, deployment_id: int, *, environment_url: str
) -> None:
    session.execute(
        sa.update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(github_deployment_id=deployment_id, environment_url=environment_url)
    )


def set_bake(session: Session, run_id: int, *, job_name: str, job_id: str | None) -> None:
    session.execute(
        sa.update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(bakery_job_name=job_name, bakery_job_id=job_id)
    )


def bake_of(session: Session, run_id: int) -> tuple[str | None, str | None]:
    """The bake's job name and id, once submitted."""
    row = session.execute(
        sa.select(RUNS.c.bakery_job_name, RUNS.c.bakery_job_id).where(RUNS.c.id == run_id)
    ).one()
    return row.bakery_job_name, row.bakery_job_id


# -- what GitHub told us ------------------------------------------------------------------------
def installation_of(session: Session, full_name: str) -> int | None:
    """The installation that lists the repository, if we know it."""
    found: int | None = session.execute(
        sa.select(INSTALLATIONS.c.id)
        .where(sa.literal(full_name) == sa.any_(INSTALLATIONS.c.repositories))
        .where(INSTALLATIONS.c.suspended.is_(False))
        .limit(1)
    ).scalar_one_or_none()
    return found


def pull_request_head_before(
    session: Session, *, repository: str, pr_number: int, before: datetime
) -> str | None:
    """The PR's head sha in the last pull_request delivery we received before `before`."""
    payload = DELIVERIES.c.payload
    found: str | None = session.execute(
        sa.select(payload["pull_request"]["head"]["sha"].astext)
        .where(DELIVERIES.c.event == "pull_request")
        .where(DELIVERIES.c.repository == repository)
        .where(payload["pull_request"]["number"].astext == str(pr_number))
        .where(DELIVERIES.c.received_at < before)
        .order_by(DELIVERIES.c.received_at.desc(), DELIVERIES.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return found


def save_job_payload(
    session: Session, *, job_id: int, worker: str, attempt: int, payload: dict[str, Any]
) -> bool:
    """Record a running job's progress in its own payload, while its claim is still held."""
    result = session.execute(
        sa.update(JOBS)
        .where(JOBS.c.id == job_id)
        .where(JOBS.c.locked_by == worker)
        .where(JOBS.c.attempts == attempt)
        .values(payload=payload)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def job_succeeded(session: Session, dedupe_key: str) -> bool:
    """Whether a job with this dedupe key already ran to success (its work is done)."""
    found = session.execute(
        sa.select(JOBS.c.id)
        .where(JOBS.c.dedupe_key == dedupe_key)
        .where(JOBS.c.status == "succeeded")
        .limit(1)
    ).first()
    return found is not None


def recipes_started_by_comment(session: Session, comment_id: int) -> set[str]:
    """Recipes whose run a `/run` comment already dispatched (its dispatch jobs name it)."""
    run_id = JOBS.c.payload["recipe_run_id"].astext.cast(sa.BigInteger)
    rows = session.execute(
        sa.select(RUNS.c.recipe_id)
        .select_from(JOBS.join(RUNS, RUNS.c.id == run_id))
        .where(JOBS.c.kind == "dispatch_run")
        .where(JOBS.c.payload["comment_id"].astext == str(comment_id))
    )
    return {row.recipe_id for row in rows}
