"""What the reconciliation job does with each unfinished run: nothing stays `in_progress` forever.

Given the facts of one run (its status, its bakery's limits, what the bakery says of the bake,
whether a dispatch job is alive) and the time, `reconcile` says what to do:
- `TimeOut`: in progress past the bakery's `max_run_seconds` -> completed/timed_out, the bake
  cancelled where the bakery can;
- `Settle`: a remote bake whose bakery's jobs API says it ended, though no status report
  arrived -> completed as the bakery says (callbacks are the normal path, this the safety net);
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
SETTLED_MESSAGE = (
    "No status report arrived from the bakery; its jobs API says the job ended: {state}."
)
# Bakeries whose jobs outlive the process that submitted them and can be asked how they are.
# Flink bakes are supervised child processes like local ones: their exit is their report.
POLLED_KINDS = frozenset({BakeryKind.DATAFLOW})
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
    # What the bakery adapter says of the bake; None when it was not asked (or could not say).
    bake_state: BakeState | None = None
    bake_message: str | None = None  # the bakery's own word for the state, e.g. JOB_STATE_DONE


@dataclass(frozen=True, slots=True)
class TimeOut:
    run_id: int
    message: str


@dataclass(frozen=True, slots=True)
class MarkLost:
    run_id: int
    message: str


@dataclass(frozen=True, slots=True)
class Settle:
    run_id: int
    state: BakeState  # final: succeeded, failed, cancelled (or timed_out)
    message: str


@dataclass(frozen=True, slots=True)
class Redispatch:
    run_id: int


Action = TimeOut | Settle | MarkLost | Redispatch


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
    """Whether to ask the bakery about this run.

    An in-progress run past the start grace and within its limit (past it, the timeout settles
    it whatever the bakery says), with no dispatch job alive (it may still be submitting), on a
    local bakery (was the bake lost?) or a polled one (did it end unreported?).
    """
    return (
        facts.status is RunStatus.IN_PROGRESS
        and (facts.bakery_kind is BakeryKind.LOCAL or facts.bakery_kind in POLLED_KINDS)
        and not facts.dispatch_job_alive
        and facts.in_progress_since is not None
        and now - facts.in_progress_since >= START_GRACE
        and not _past_limit(facts, now=now)
    )


def _past_limit(facts: RunFacts, *, now: datetime) -> bool:
    # A legacy row may never have been stamped: the limit then counts from its creation.
    since = facts.in_progress_since or facts.created_at
    return (
        since is not None
        and facts.max_run_seconds is not None
        and now - since > timedelta(seconds=facts.max_run_seconds)
    )


def _in_progress(facts: RunFacts, *, now: datetime) -> Action | None:
    if facts.max_run_seconds is not None and _past_limit(facts, now=now):
        return TimeOut(facts.run_id, TIMED_OUT_MESSAGE.format(limit=facts.max_run_seconds))
    if facts.bake_state is None or not needs_bake_state(facts, now=now):
        return None
    if facts.bakery_kind is BakeryKind.LOCAL:
        # A local bake ends through its process's exit hook; only a lost one needs settling.
        if facts.bake_state is BakeState.UNKNOWN:
            return MarkLost(facts.run_id, LOST_MESSAGE.format(recipe_id=facts.recipe_id))
        return None
    if facts.bake_state.is_final:
        state = facts.bake_message or facts.bake_state.value
        return Settle(facts.run_id, facts.bake_state, SETTLED_MESSAGE.format(state=state))
    # Still running, or UNKNOWN (a remote job's unknown says nothing of a restart): wait, and
    # let the timeout settle a job that never ends.
    return None
