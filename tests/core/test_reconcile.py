"""core.reconcile: which unfinished runs get timed out, failed as lost, or dispatched again."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from pangeo_forge_orchestrator.core.bakes import BakeState
from pangeo_forge_orchestrator.core.reconcile import (
    MAX_DISPATCH_JOBS,
    SETTLED_MESSAGE,
    START_GRACE,
    MarkLost,
    Redispatch,
    RunFacts,
    Settle,
    TimeOut,
    needs_bake_state,
    reconcile,
    reconcile_all,
)
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, RunStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BAKING = RunFacts(
    run_id=7,
    recipe_id="ocean",
    status=RunStatus.IN_PROGRESS,
    bakery_kind=BakeryKind.LOCAL,
    max_run_seconds=3600,
    in_progress_since=NOW - timedelta(minutes=10),
    created_at=NOW - timedelta(days=2),
    requested=True,
    dispatch_job_alive=False,
    dispatch_jobs=1,
    bake_state=BakeState.RUNNING,
)
REMOTE = dataclasses.replace(BAKING, bakery_kind=BakeryKind.DATAFLOW, bake_state=None)
WAITING = dataclasses.replace(
    BAKING,
    status=RunStatus.QUEUED,
    in_progress_since=None,
    created_at=NOW - timedelta(minutes=10),
    dispatch_jobs=0,
    bake_state=None,
)


def facts(base: RunFacts = BAKING, **changes: object) -> RunFacts:
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_run_baking_within_its_limit_is_left_alone() -> None:
    assert reconcile(BAKING, now=NOW) is None


def test_a_run_in_progress_past_its_limit_times_out_with_a_message_saying_so() -> None:
    late = facts(in_progress_since=NOW - timedelta(seconds=3601))

    action = reconcile(late, now=NOW)

    assert isinstance(action, TimeOut)
    assert action.run_id == 7
    assert "limit of 3600 seconds" in action.message
    assert "timed out" in action.message


def test_the_limit_counts_from_the_start_not_from_creation() -> None:
    # Created two days ago, waiting for approval; started ten minutes ago.
    assert reconcile(facts(max_run_seconds=3600), now=NOW) is None


def test_a_legacy_run_never_stamped_counts_from_its_creation() -> None:
    assert isinstance(reconcile(facts(in_progress_since=None), now=NOW), TimeOut)


@pytest.mark.parametrize("kind", [BakeryKind.DATAFLOW, BakeryKind.LOCAL, None])
def test_every_kind_times_out_even_a_remote_one_whose_bakery_says_nothing(
    kind: BakeryKind | None,
) -> None:
    late = facts(bakery_kind=kind, bake_state=None, in_progress_since=NOW - timedelta(hours=2))

    assert isinstance(reconcile(late, now=NOW), TimeOut)


def test_a_local_bake_this_process_never_saw_is_failed_with_the_rerun_hint() -> None:
    action = reconcile(facts(bake_state=BakeState.UNKNOWN), now=NOW)

    assert action == MarkLost(
        7, "the service restarted while this run was baking; re-run it with /run ocean"
    )


def test_a_bake_just_started_is_not_lost_yet() -> None:
    fresh = facts(bake_state=BakeState.UNKNOWN, in_progress_since=NOW - timedelta(seconds=30))

    assert not needs_bake_state(fresh, now=NOW)
    assert reconcile(fresh, now=NOW) is None


def test_a_bake_whose_dispatch_job_is_still_alive_is_not_lost() -> None:
    dispatching = facts(bake_state=BakeState.UNKNOWN, dispatch_job_alive=True)

    assert reconcile(dispatching, now=NOW) is None


def test_local_and_dataflow_bakes_are_asked_about_flink_and_unconfigured_ones_are_not() -> None:
    assert needs_bake_state(BAKING, now=NOW)
    assert needs_bake_state(REMOTE, now=NOW)
    # A Flink bake is a supervised child process whose exit reports it; no jobs API to ask.
    assert not needs_bake_state(facts(bakery_kind=BakeryKind.FLINK), now=NOW)
    assert not needs_bake_state(facts(bakery_kind=None), now=NOW)


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (BakeState.SUCCEEDED, "JOB_STATE_DONE"),
        (BakeState.FAILED, "JOB_STATE_FAILED"),
        (BakeState.CANCELLED, "JOB_STATE_CANCELLED"),
    ],
)
def test_a_remote_bake_that_ended_unreported_is_settled_as_its_bakery_says(
    state: BakeState, word: str
) -> None:
    action = reconcile(facts(REMOTE, bake_state=state, bake_message=word), now=NOW)

    assert action == Settle(7, state, SETTLED_MESSAGE.format(state=word))
    assert word in action.message


def test_a_settled_run_without_the_bakerys_word_names_the_state() -> None:
    action = reconcile(facts(REMOTE, bake_state=BakeState.FAILED, bake_message=None), now=NOW)

    assert isinstance(action, Settle)
    assert action.message == SETTLED_MESSAGE.format(state="failed")


@pytest.mark.parametrize("state", [BakeState.QUEUED, BakeState.RUNNING, BakeState.UNKNOWN, None])
def test_a_remote_bake_still_going_unknown_or_not_asked_is_left_alone(
    state: BakeState | None,
) -> None:
    # UNKNOWN from a jobs API says nothing about a restart (unlike a local bake): the timeout
    # settles a job that never ends.
    assert reconcile(facts(REMOTE, bake_state=state), now=NOW) is None


def test_a_remote_bake_is_not_asked_about_or_settled_within_the_start_grace() -> None:
    fresh = facts(
        REMOTE, bake_state=BakeState.FAILED, in_progress_since=NOW - timedelta(seconds=30)
    )

    assert not needs_bake_state(fresh, now=NOW)
    assert reconcile(fresh, now=NOW) is None
    # Past the grace, the same facts settle it.
    assert needs_bake_state(facts(fresh, in_progress_since=NOW - START_GRACE), now=NOW)


def test_a_remote_bake_whose_dispatch_job_is_alive_is_not_settled() -> None:
    dispatching = facts(REMOTE, bake_state=BakeState.SUCCEEDED, dispatch_job_alive=True)

    assert reconcile(dispatching, now=NOW) is None


def test_the_timeout_wins_over_what_the_bakery_says() -> None:
    late = facts(REMOTE, bake_state=BakeState.SUCCEEDED, in_progress_since=NOW - timedelta(hours=2))

    assert isinstance(reconcile(late, now=NOW), TimeOut)
    # So the bakery is not even asked.
    assert not needs_bake_state(late, now=NOW)


@pytest.mark.parametrize("state", [BakeState.SUCCEEDED, BakeState.FAILED, BakeState.RUNNING])
def test_a_local_bake_is_only_ever_marked_lost_never_settled(state: BakeState) -> None:
    # Its process's exit hook reports the final states; reconciliation waits for that job.
    assert reconcile(facts(bake_state=state), now=NOW) is None


def test_a_requested_run_never_dispatched_is_dispatched_again() -> None:
    assert reconcile(WAITING, now=NOW) == Redispatch(7)


@pytest.mark.parametrize(
    "changes",
    [
        {"requested": False},  # awaits a maintainer's /run
        {"dispatch_job_alive": True},
        {"dispatch_jobs": MAX_DISPATCH_JOBS},  # dispatching keeps failing: stop re-queueing
        {"created_at": NOW - timedelta(seconds=30)},  # its dispatch job is on the way
    ],
)
def test_a_queued_run_is_left_alone_when(changes: dict[str, object]) -> None:
    assert reconcile(facts(WAITING, **changes), now=NOW) is None


def test_completed_runs_are_never_touched() -> None:
    done = facts(status=RunStatus.COMPLETED, in_progress_since=NOW - timedelta(days=9))

    assert reconcile(done, now=NOW) is None


def test_reconcile_all_keeps_only_the_runs_that_need_something() -> None:
    late = facts(run_id=1, in_progress_since=NOW - timedelta(days=1))
    lost = facts(run_id=2, bake_state=BakeState.UNKNOWN)
    done = facts(REMOTE, run_id=4, bake_state=BakeState.SUCCEEDED)
    running = facts(REMOTE, run_id=5, bake_state=BakeState.RUNNING)

    actions = reconcile_all([late, BAKING, lost, facts(WAITING, run_id=3), done, running], now=NOW)

    assert [(type(a).__name__, a.run_id) for a in actions] == [
        ("TimeOut", 1),
        ("MarkLost", 2),
        ("Redispatch", 3),
        ("Settle", 4),
    ]
