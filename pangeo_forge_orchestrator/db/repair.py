"""Queries of `pfo repair`: find what the original service left inconsistent, settle stuck runs."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlmodel import col

from pangeo_forge_orchestrator.core.repair import (
    DuplicateGroup,
    RepairReport,
    Settlement,
    StuckRun,
    settle_stuck_run,
)
from pangeo_forge_orchestrator.core.vocabulary import RunStatus
from pangeo_forge_orchestrator.db.tables import Feedstock, RecipeRun

# The upgrade moves every JSON message it can read into typed columns; what still looks like
# a JSON object held something it could not place.
JSON_LOOKING = r"^\s*\{"


def find_problems(session: Session, *, stuck_after: timedelta, now: datetime) -> RepairReport:
    """Report duplicates, stuck runs, completed runs without an end, and leftover JSON."""
    return RepairReport(
        stuck_after=stuck_after,
        duplicate_groups=_duplicate_groups(session),
        stuck_run_ids=_ids(session, _is_stuck(stuck_after=stuck_after, now=now)),
        completed_without_completed_at_ids=_ids(
            session,
            sa.and_(
                col(RecipeRun.status) == RunStatus.COMPLETED,
                col(RecipeRun.completed_at).is_(None),
            ),
        ),
        json_message_ids=_ids(session, col(RecipeRun.message).regexp_match(JSON_LOOKING)),
    )


def settle_stuck_runs(
    session: Session, *, stuck_after: timedelta, now: datetime
) -> list[Settlement]:
    """Complete every run stuck in_progress; rows a worker holds right now are left alone."""
    rows = session.execute(
        sa.select(
            col(RecipeRun.id),
            col(RecipeRun.conclusion),
            col(RecipeRun.completed_at),
            col(RecipeRun.message),
        )
        .where(_is_stuck(stuck_after=stuck_after, now=now))
        .order_by(col(RecipeRun.id))
        .with_for_update(skip_locked=True)
    ).all()
    settlements = [
        settle_stuck_run(
            StuckRun(
                id=row.id,
                conclusion=row.conclusion,
                completed_at=row.completed_at,
                message=row.message,
            ),
            now=now,
            stuck_after=stuck_after,
        )
        for row in rows
    ]
    if settlements:
        session.execute(
            sa.update(RecipeRun),
            [
                {
                    "id": settlement.id,
                    "status": RunStatus.COMPLETED,
                    "conclusion": settlement.conclusion,
                    "completed_at": settlement.completed_at,
                    "message": settlement.message,
                    "updated_at": now,
                }
                for settlement in settlements
            ],
        )
    return settlements


def _is_stuck(*, stuck_after: timedelta, now: datetime) -> sa.ColumnElement[bool]:
    # started_at is when the run was created: the only time every run, old or new, carries.
    return sa.and_(
        col(RecipeRun.status) == RunStatus.IN_PROGRESS,
        col(RecipeRun.started_at) < now - stuck_after,
    )


def _ids(session: Session, condition: sa.ColumnElement[bool]) -> tuple[int, ...]:
    # The model types the primary key Optional (unset before insert); stored rows always have one.
    run_id = sa.type_coerce(col(RecipeRun.id), sa.Integer)
    return tuple(session.scalars(sa.select(run_id).where(condition).order_by(run_id)).all())


def _duplicate_groups(session: Session) -> tuple[DuplicateGroup, ...]:
    run_ids = sa.func.array_agg(aggregate_order_by(col(RecipeRun.id), col(RecipeRun.id)))
    rows = session.execute(
        sa.select(
            col(Feedstock.spec),
            col(RecipeRun.head_sha),
            col(RecipeRun.recipe_id),
            run_ids.label("run_ids"),
        )
        .join(Feedstock, col(Feedstock.id) == col(RecipeRun.feedstock_id))
        .group_by(
            col(RecipeRun.feedstock_id),
            col(Feedstock.spec),
            col(RecipeRun.head_sha),
            col(RecipeRun.recipe_id),
        )
        .having(sa.func.count() > 1)
        .order_by(sa.func.min(col(RecipeRun.id)))
    ).all()
    return tuple(
        DuplicateGroup(
            feedstock_spec=row.spec,
            head_sha=row.head_sha,
            recipe_id=row.recipe_id,
            run_ids=tuple(row.run_ids),
        )
        for row in rows
    )
