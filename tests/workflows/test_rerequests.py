"""check_run / check_suite rerequested: the "Re-run" buttons re-run the sha's failed runs."""

from __future__ import annotations

from typing import Any

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from tests.workflows.harness import (
    CONTRIBUTOR,
    FEEDSTOCK,
    HEAD_SHA,
    INSTALLATION_ID,
    MAINTAINER,
    Harness,
    example,
)
from tests.workflows.test_slash_commands import comment, opened, our_comments, runner_bakes

pytestmark = pytest.mark.anyio

CHECK_RUN = "github/webhooks/examples/check_run/rerequested.payload.json"
CHECK_SUITE = "github/webhooks/examples/check_suite/rerequested.payload.json"


def rerequest(harness: Harness, relative: str, key: str, *, sender: str) -> dict[str, Any]:
    """GitHub's example delivery, pointed at our feedstock's head sha and PR #7."""
    payload = example(relative)
    repo = harness.repo(FEEDSTOCK)
    payload.update(
        repository=harness.fake.repo_json(repo),
        installation={"id": INSTALLATION_ID, "node_id": "x"},
        sender=harness.fake.user(sender),
    )
    payload[key].update(
        head_sha=HEAD_SHA,
        pull_requests=[{"number": 7, "id": 1, "url": "u", "head": {}, "base": {}}],
    )
    return payload


async def failed_once(harness: Harness) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run all")
    await harness.work()
    harness.reset_calls()


async def test_rerun_of_a_failed_runs_check_starts_one_new_attempt(harness: Harness) -> None:
    await failed_once(harness)
    crash = next(r for r in harness.runs() if r.recipe_id == "crash")
    payload = rerequest(harness, CHECK_RUN, "check_run", sender=MAINTAINER)
    payload["check_run"]["external_id"] = f"pfo-recipe-run:{crash.id}"

    guid = harness.deliver("check_run", payload)
    ran = await harness.work()

    assert ran == [
        ("handle_delivery", "succeeded"),
        ("dispatch_run", "succeeded"),
        ("complete_run", "succeeded"),
    ]
    runs = harness.runs()
    assert [(r.recipe_id, r.conclusion, r.requested_by) for r in runs] == [
        ("ok", "success", MAINTAINER),
        ("crash", "failure", MAINTAINER),
        ("crash", "failure", MAINTAINER),
    ]
    assert "--Bake.recipe_id=crash" in runner_bakes(harness)[-1]["argv"]

    # The same press, redelivered or replayed after the re-run failed again: nothing more.
    harness.deliver("check_run", payload)
    harness.replay(guid)
    assert await harness.work() == [("handle_delivery", "succeeded")] * 2
    assert len(harness.runs()) == 3
    assert len(runner_bakes(harness)) == 3


async def test_rerun_all_checks_reruns_every_failed_recipe_once(harness: Harness) -> None:
    await failed_once(harness)
    payload = rerequest(harness, CHECK_SUITE, "check_suite", sender=MAINTAINER)

    harness.deliver("check_suite", payload)
    harness.deliver("check_suite", payload)  # a duplicate, before the re-run finished
    ran = await harness.work()

    assert sorted(ran) == sorted(
        [("handle_delivery", "succeeded")] * 2
        + [("dispatch_run", "succeeded"), ("complete_run", "succeeded")]
    )
    assert [(r.recipe_id, r.conclusion) for r in harness.runs()] == [
        ("ok", "success"),
        ("crash", "failure"),
        ("crash", "failure"),
    ]


async def test_rerun_by_someone_without_write_access_is_answered_on_the_pr(
    harness: Harness,
) -> None:
    await failed_once(harness)

    harness.deliver("check_run", rerequest(harness, CHECK_RUN, "check_run", sender=CONTRIBUTOR))
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")]
    assert len(harness.runs()) == 2
    refusal = msg.RERUN_REFUSAL.format(login=CONTRIBUTOR, repo=FEEDSTOCK, level="read")
    assert our_comments(harness.repo(FEEDSTOCK))[-1].startswith(refusal)


async def test_rerun_pressed_by_a_bot_is_ignored_without_a_read(harness: Harness) -> None:
    await failed_once(harness)
    payload = rerequest(harness, CHECK_SUITE, "check_suite", sender="linter[bot]")

    harness.deliver("check_suite", payload)
    await harness.work()

    assert harness.calls() == {}
    assert harness.deliveries()[-1].status == "ignored"
    assert len(harness.runs()) == 2
