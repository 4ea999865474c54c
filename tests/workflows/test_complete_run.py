"""The complete_run job on its own: how bakery reports move a run, and what they report."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pangeo_forge_orchestrator.jobs.complete_run import complete_run
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import PermanentFailure
from tests.workflows.harness import Harness
from tests.workflows.test_slash_commands import comment, opened, our_comments

pytestmark = pytest.mark.anyio

UPDATE_CHECK = ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
LIST_COMMENTS = ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
INSTALLATION = ("GET", "/repos/{owner}/{repo}/installation")


def job(payload: dict[str, Any], *, attempt: int = 1) -> ClaimedJob:
    return ClaimedJob(
        id=0, kind="complete_run", payload=payload, attempt=attempt, max_attempts=5, locked_by="t"
    )


async def finished_ok(harness: Harness) -> int:
    repo = await opened(harness)
    comment(harness, repo, "/run ok")
    await harness.work()
    harness.reset_calls()
    return int(next(r.id for r in harness.runs() if r.recipe_id == "ok"))


async def test_a_late_report_after_completion_changes_and_reports_nothing(
    harness: Harness,
) -> None:
    run_id = await finished_ok(harness)

    await complete_run(harness.ctx, job({"recipe_run_id": run_id, "state": "failed"}))

    (ok,) = [r for r in harness.runs() if r.id == run_id]
    assert (ok.status, ok.conclusion) == ("completed", "success")
    assert harness.calls() == Counter()


async def test_a_retried_completion_reports_again_without_duplicates(harness: Harness) -> None:
    run_id = await finished_ok(harness)

    retried = job({"recipe_run_id": run_id, "state": "succeeded"}, attempt=2)
    await complete_run(harness.ctx, retried)

    # The check is completed again (same values) and the comment found by its marker.
    assert harness.calls() == Counter({INSTALLATION: 1, UPDATE_CHECK: 1, LIST_COMMENTS: 1})
    assert len(our_comments(harness.repo("pangeo-forge/ocean-feedstock"))) == 1


@pytest.mark.parametrize("state", ["queued", "unknown"])
async def test_states_that_say_nothing_new_are_dropped(harness: Harness, state: str) -> None:
    run_id = await finished_ok(harness)

    await complete_run(harness.ctx, job({"recipe_run_id": run_id, "state": state}))

    assert harness.calls() == Counter()


async def test_an_unknown_state_fails_the_job_for_good(harness: Harness) -> None:
    with pytest.raises(PermanentFailure, match="unknown run state 'exploded'"):
        await complete_run(harness.ctx, job({"recipe_run_id": 1, "state": "exploded"}))


async def test_a_report_for_an_unknown_run_fails_the_job_for_good(harness: Harness) -> None:
    with pytest.raises(PermanentFailure, match="recipe run 4242 does not exist"):
        await complete_run(harness.ctx, job({"recipe_run_id": 4242, "state": "succeeded"}))
