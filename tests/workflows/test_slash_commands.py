"""issue_comment created on a pull request: /run, /cancel, /help, and who may run code."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.webhooks.issue_comment import HEAD_MOVED, HEAD_UNSEEN
from tests.fake_github import FakeRepo
from tests.workflows.harness import (
    CONTRIBUTOR,
    FEEDSTOCK,
    HEAD_SHA,
    MAINTAINER,
    META,
    NEW_SHA,
    Harness,
)

pytestmark = pytest.mark.anyio

PULL = ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
PERMISSION = ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
CONTENTS = ("GET", "/repos/{owner}/{repo}/contents/{path}")
REACT = ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
LIST_COMMENTS = ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
COMMENT = ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
LIST_CHECKS = ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
CREATE_CHECK = ("POST", "/repos/{owner}/{repo}/check-runs")
UPDATE_CHECK = ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
INSTALLATION = ("GET", "/repos/{owner}/{repo}/installation")


async def opened(harness: Harness) -> FakeRepo:
    """A feedstock PR #7 whose sync recorded queued test runs of `ok` and `crash`."""
    repo = harness.add_feedstock()
    repo.permissions[MAINTAINER] = "write"
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    await harness.work()
    harness.reset_calls()
    return repo


def comment(harness: Harness, repo: FakeRepo, body: str, login: str = MAINTAINER) -> int:
    """Someone comments BODY on PR #7; the delivery arrives. Returns the comment id."""
    written = harness.add_comment(repo, 7, body=body, login=login)
    harness.deliver("issue_comment", harness.comment_payload(repo, 7, written))
    return int(written["id"])


def reactions(repo: FakeRepo, comment_id: int) -> list[str]:
    return [r["content"] for r in repo.reactions.get(comment_id, [])]


def our_comments(repo: FakeRepo) -> list[str]:
    return [c["body"] for c in repo.comments_on(7) if c["user"]["login"].endswith("[bot]")]


def runner_bakes(harness: Harness) -> list[dict[str, Any]]:
    return [c for c in harness.runner.calls() if c["argv"][0] == "bake"]


async def test_run_by_a_maintainer_runs_the_recipe_and_reports_success(harness: Harness) -> None:
    repo = await opened(harness)
    comment_id = comment(harness, repo, "/run ok")

    ran = await harness.work()

    assert ran == [
        ("handle_delivery", "succeeded"),
        ("dispatch_run", "succeeded"),
        ("complete_run", "succeeded"),
    ]
    assert reactions(repo, comment_id) == ["eyes", "rocket"]
    ok = next(r for r in harness.runs() if r.recipe_id == "ok")
    assert (ok.status, ok.conclusion, ok.requested_by) == ("completed", "success", MAINTAINER)
    url = f"https://data.example/pangeo-forge/test/{FEEDSTOCK}/recipe-run-{ok.id}/ok.zarr"
    assert ok.dataset_public_url == url
    (bake,) = runner_bakes(harness)
    assert "--prune" in bake["argv"]
    assert f"--ref={HEAD_SHA}" in bake["argv"]
    assert "--Bake.recipe_id=ok" in bake["argv"]
    assert f"--repo=https://github.com/{FEEDSTOCK}.git" in bake["argv"]
    assert not any(name.startswith("PFO_") for name in bake["env"])
    run_check = next(c for c in repo.check_runs.values() if c["name"] == "Recipe run: ok")
    assert (run_check["status"], run_check["conclusion"]) == ("completed", "success")
    assert run_check["details_url"] == (
        f"https://pangeo-forge.example/dashboard/recipe-run/{ok.id}?feedstock_id={ok.feedstock_id}"
    )
    (result,) = our_comments(repo)
    assert f'ds = xr.open_dataset({json.dumps(url)}, engine="zarr", chunks={{}})' in result
    assert f"<!-- pfo:run-{ok.id}:result -->" in result
    assert harness.calls() == Counter(
        {
            # the command: the PR's head, the commenter's permission, meta.yaml, 👀
            PULL: 2,  # and the dispatch reads the PR for its head repository
            PERMISSION: 1,
            CONTENTS: 1,
            REACT: 2,  # 👀 then 🚀
            LIST_CHECKS: 1,
            CREATE_CHECK: 1,
            # completion: the installation of the repo, the check, the result comment
            INSTALLATION: 1,
            UPDATE_CHECK: 1,
            LIST_COMMENTS: 1,
            COMMENT: 1,
        }
    )


async def test_a_failed_run_comments_the_error_and_the_logs_link(harness: Harness) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run crash")

    await harness.work()

    crash = next(r for r in harness.runs() if r.recipe_id == "crash")
    assert (crash.status, crash.conclusion) == ("completed", "failure")
    assert crash.dataset_public_url is None
    (result,) = our_comments(repo)
    assert "The test run of `crash` at" in result
    assert "failed" in result
    assert "ValueError: boom" in result
    assert f"Full logs: https://pfo.example/recipe_runs/{crash.id}/logs" in result
    check = next(c for c in repo.check_runs.values() if c["name"] == "Recipe run: crash")
    assert check["conclusion"] == "failure"


async def test_someone_without_write_access_is_refused_politely(harness: Harness) -> None:
    repo = await opened(harness)
    comment_id = comment(harness, repo, "/run ok", login=CONTRIBUTOR)

    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")]
    assert reactions(repo, comment_id) == ["eyes"]
    (reply,) = our_comments(repo)
    assert reply.startswith(
        msg.REFUSAL.format(login=CONTRIBUTOR, repo=FEEDSTOCK, level="read", command="/run ok")
    )
    assert [r.status for r in harness.runs()] == ["queued", "queued"]
    assert runner_bakes(harness) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "/run nope",
            msg.UNKNOWN_RECIPE.format(
                login=MAINTAINER, recipe_id="nope", sha=HEAD_SHA, ids="`ok`, `crash`", example="ok"
            ),
        ),
        (
            "/run",
            msg.USAGE.format(
                login=MAINTAINER, line="/run", problem=msg.MISSING_RECIPE_ID.format(word="run")
            ),
        ),
        ("/help", msg.HELP.format(sha=HEAD_SHA, ids="`ok`, `crash`")),
        (
            "/cancel nope",
            msg.UNKNOWN_RECIPE.format(
                login=MAINTAINER,
                recipe_id="nope",
                sha=HEAD_SHA,
                ids="`crash`, `ok`",
                example="crash",
            ),
        ),
    ],
    ids=["unknown-recipe", "malformed", "help", "cancel-unknown"],
)
async def test_commands_that_run_nothing_get_a_reply(
    harness: Harness, body: str, expected: str
) -> None:
    repo = await opened(harness)
    comment_id = comment(harness, repo, body)

    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")]
    assert reactions(repo, comment_id) == ["eyes"]
    (reply,) = our_comments(repo)
    assert reply == f"{expected}\n\n<!-- pfo:command-{comment_id} -->"
    assert runner_bakes(harness) == []


async def test_a_malformed_command_needs_no_permission_or_meta_read(harness: Harness) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run a b")

    await harness.work()

    assert harness.calls() == Counter({PULL: 1, REACT: 1, LIST_COMMENTS: 1, COMMENT: 1})


@pytest.mark.parametrize("body", ["Looks good to me!", "/cc @someone", "> /run ok"])
async def test_comments_that_are_not_commands_cost_nothing(harness: Harness, body: str) -> None:
    repo = await opened(harness)
    comment_id = comment(harness, repo, body)

    await harness.work()

    assert harness.calls() == Counter()
    assert reactions(repo, comment_id) == []
    assert [d.status for d in harness.deliveries()][-1] == "ignored"


async def test_a_push_after_the_comment_declines_the_run(harness: Harness) -> None:
    repo = await opened(harness)
    written = harness.add_comment(repo, 7, body="/run ok", login=MAINTAINER)
    # Pushed after the comment was written, before the service handled it.
    harness.fake.add_pull(repo, 7, head_sha=NEW_SHA, files={"feedstock/meta.yaml": META})
    harness.deliver("issue_comment", harness.comment_payload(repo, 7, written))

    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")]
    (reply,) = our_comments(repo)
    assert reply.startswith(
        HEAD_MOVED.format(login=MAINTAINER, head=NEW_SHA, seen=HEAD_SHA, command="/run ok")
    )
    assert [r.status for r in harness.runs()] == ["queued", "queued"]
    assert runner_bakes(harness) == []
    assert harness.deliveries()[-1].error == "/run declined: the head moved after the comment"


async def test_run_all_then_run_again_starts_new_attempts_and_keeps_the_old(
    harness: Harness,
) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run all")
    await harness.work()
    first = {r.recipe_id: r for r in harness.runs()}
    assert {k: r.conclusion for k, r in first.items()} == {"ok": "success", "crash": "failure"}

    comment(harness, repo, "/run crash")
    await harness.work()

    runs = harness.runs()
    assert [(r.recipe_id, r.conclusion) for r in runs] == [
        ("ok", "success"),
        ("crash", "failure"),
        ("crash", "failure"),
    ]
    assert runs[2].id > first["crash"].id
    assert len(runner_bakes(harness)) == 3


async def test_cancel_stops_a_requested_run_before_it_starts(harness: Harness) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run ok")
    cancel_id = comment(harness, repo, "/cancel ok")

    await harness.work()

    ok = next(r for r in harness.runs() if r.recipe_id == "ok")
    assert (ok.status, ok.conclusion) == ("completed", "cancelled")
    assert ok.message == msg.CANCEL_REASON_COMMAND.format(login=MAINTAINER)
    assert reactions(repo, cancel_id) == ["eyes"]
    assert runner_bakes(harness) == []


async def test_a_redelivered_run_command_dispatches_once(harness: Harness) -> None:
    repo = await opened(harness)
    written = harness.add_comment(repo, 7, body="/run ok", login=MAINTAINER)
    payload = harness.comment_payload(repo, 7, written)
    guid = harness.deliver("issue_comment", payload)
    await harness.work()
    harness.deliver("issue_comment", payload)
    harness.replay(guid)

    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")] * 2
    assert len(runner_bakes(harness)) == 1
    assert len([r for r in harness.runs() if r.recipe_id == "ok"]) == 1
    assert reactions(repo, int(written["id"])) == ["eyes", "rocket"]
    assert len(our_comments(repo)) == 1  # the result, once


async def test_a_bakery_that_cannot_take_runs_fails_the_dispatch_visibly(
    harness: Harness,
) -> None:
    repo = await opened(harness)
    harness.ctx.services["bakeries"].adapters.clear()
    comment_id = comment(harness, repo, "/run ok")

    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded"), ("dispatch_run", "succeeded")]
    assert reactions(repo, comment_id) == ["eyes", "rocket", "confused"]
    ok = next(r for r in harness.runs() if r.recipe_id == "ok")
    assert (ok.status, ok.conclusion) == ("completed", "failure")
    (reply,) = our_comments(repo)
    assert reply.startswith("I could not start the test run of `ok`")
    check = next(c for c in repo.check_runs.values() if c["name"] == "Recipe run: ok")
    assert check["conclusion"] == "failure"


async def test_cancel_of_a_finished_run_says_there_is_nothing_to_cancel(harness: Harness) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run ok")
    await harness.work()
    cancel_id = comment(harness, repo, "/cancel ok")

    await harness.work()

    replies = our_comments(repo)
    expected = msg.NOTHING_TO_CANCEL.format(login=MAINTAINER, recipe_id="ok")
    assert replies[-1] == f"{expected}\n\n<!-- pfo:command-{cancel_id} -->"
    assert next(r for r in harness.runs() if r.recipe_id == "ok").conclusion == "success"


async def test_a_run_on_a_pr_whose_pushes_we_never_saw_is_declined(harness: Harness) -> None:
    repo = harness.add_feedstock()
    repo.permissions[MAINTAINER] = "write"
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    comment_id = comment(harness, repo, "/run ok")

    await harness.work()

    (reply,) = our_comments(repo)
    assert reply.startswith(HEAD_UNSEEN.format(login=MAINTAINER, head=HEAD_SHA, command="/run ok"))
    assert reactions(repo, comment_id) == ["eyes"]
    assert harness.runs() == []
