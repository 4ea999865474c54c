"""What the reconciliation job does with each unfinished run: nothing stays `in_progress` forever.

Given the facts of one run (its status, its bakery's limits, what the bakery says of the bake,
whether a dispatch job is alive) and the time, `reconcile` says what to do:
- `TimeOut`: in progress past the bakery's `max_run_seconds` -> completed/timed_out, the bake
  cancelled where the bakery can;
- `MarkLost`: a local bake this process never saw (the service restarted under it) -> failed;
- `Redispatch`: requested with /run but never dispatched, and no dispatch job alive -> queue one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pangeo_forge_orchestrator.core.bakes import BakeState
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, RunStatus

TIMED_OUT_MESSAGE = (
    "The run was still in progress after its bakery's limit of {limit} seconds "
    "(max_run_seconds); it was stopped and marked timed out."
)
LOST_MESSAGE = "the service restarted while this run was baking; re-run it with /run {recipe_id}"
# A run just started may not have reached its bakery yet (dispatch submits after the start).
START_GRACE = timedelta(minutes=2)
# A run requested a moment ago has its dispatch job on the way, in the same transaction or next.
DISPATCH_GRACE = timedelta(minutes=2)
# Dispatch jobs a queued run may have had before reconciliation stops queueing more: a dispatch
# that keeps failing for good would otherwise be retried every period, forever.
MAX_DISPATCH_JOBS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFacts:
    """What reconciliation knows of one queued or in-progress run."""

    run_id: int
    recipe_id: str
    status: RunStatus
    bakery_kind: BakeryKind | None  # None: the bakery is not configured here
    max_run_seconds: int | None
    # When the run went in progress (its last state change; db/runs.apply_transition stamps it).
    in_progress_since: datetime | None
    created_at: datetime | None
    requested: bool
    dispatch_job_alive: bool
    dispatch_jobs: int = 0  # dispatch jobs the run ever had, live or ended
    # What the bakery adapter in this process says of the bake; None when it was not asked.
    bake_state: BakeState | None = None


@dataclass(frozen=True, slots=True)
class TimeOut:
    run_id: int
    message: str


@dataclass(frozen=True, slots=True)
class MarkLost:
    run_id: int
    message: str


@dataclass(frozen=True, slots=True)
class Redispatch:
    run_id: int


Action = TimeOut | MarkLost | Redispatch


def reconcile(facts: RunFacts, *, now: datetime) -> Action | None:
    """The action that settles this run, or None when it is fine as it is."""
    if facts.status is RunStatus.IN_PROGRESS:
        return _in_progress(facts, now=now)
    if (
        facts.status is RunStatus.QUEUED
        and facts.requested
        and not facts.dispatch_job_alive
        and facts.dispatch_jobs < MAX_DISPATCH_JOBS
        and (facts.created_at is None or now - facts.created_at >= DISPATCH_GRACE)
    ):
        return Redispatch(facts.run_id)
    return None


def reconcile_all(runs: Iterable[RunFacts], *, now: datetime) -> list[Action]:
    return [action for facts in runs if (action := reconcile(facts, now=now)) is not None]


def needs_bake_state(facts: RunFacts, *, now: datetime) -> bool:
    """Whether to ask the bakery about this run: an in-progress local bake past the grace."""
    return (
        facts.status is RunStatus.IN_PROGRESS
        and facts.bakery_kind is BakeryKind.LOCAL
        and not facts.dispatch_job_alive
        and facts.in_progress_since is not None
        and now - facts.in_progress_since >= START_GRACE
    )


def _in_progress(facts: RunFacts, *, now: datetime) -> Action | None:
    # A legacy row may never have been stamped: the limit then counts from its creation.
    since = facts.in_progress_since or facts.created_at
    if (
        since is not None
        and facts.max_run_seconds is not None
        and now - since > timedelta(seconds=facts.max_run_seconds)
    ):
        return TimeOut(facts.run_id, TIMED_OUT_MESSAGE.format(limit=facts.max_run_seconds))
    if facts.bake_state is BakeState.UNKNOWN and needs_bake_state(facts, now=now):
        return MarkLost(facts.run_id, LOST_MESSAGE.format(recipe_id=facts.recipe_id))
    return None
