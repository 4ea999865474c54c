"""pull_request closed: a merged feedstock PR deploys; a closed or unrelated one does nothing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.merges import SKIP_NO_FEEDSTOCK_CHANGE
from tests.fake_github import FakeRepo
from tests.workflows.harness import FEEDSTOCK, HEAD_SHA, MAINTAINER, META, Harness, as_bytes
from tests.workflows.test_slash_commands import runner_bakes

pytestmark = pytest.mark.anyio

FILES = ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files")
CONTENTS = ("GET", "/repos/{owner}/{repo}/contents/{path}")
LIST_DEPLOYMENTS = ("GET", "/repos/{owner}/{repo}/deployments")
CREATE_DEPLOYMENT = ("POST", "/repos/{owner}/{repo}/deployments")
LIST_STATUSES = ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")
CREATE_STATUS = ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses")


def merged_pull(
    harness: Harness,
    *,
    files: dict[str, str | bytes],
    title: str = "Update recipe",
    merged: bool = True,
) -> tuple[FakeRepo, str]:
    """Feedstock PR #9, merged into main as a merge commit holding FILES; (repo, merge sha)."""
    repo = harness.add_feedstock()
    merge_sha = repo.commit("main", {k: as_bytes(v) for k, v in files.items()}, message="Merge #9")
    pull = harness.fake.add_pull(
        repo, 9, head_sha=HEAD_SHA, files=files, title=title, state="closed", merged=merged
    )
    pull.update(
        merge_commit_sha=merge_sha if merged else None,
        merged_by=harness.fake.user(MAINTAINER) if merged else None,
    )
    return repo, merge_sha


def statuses(repo: FakeRepo, deployment: dict[str, Any]) -> list[str]:
    return [s["state"] for s in repo.deployment_statuses[deployment["id"]]]


async def test_a_merge_deploys_each_recipe_at_the_merge_commit(harness: Harness) -> None:
    repo, merge_sha = merged_pull(harness, files={"feedstock/meta.yaml": META})

    guid = harness.deliver("pull_request", harness.pull_request_payload("closed", repo, 9))
    ran = await harness.work()

    assert Counter(ran) == Counter(
        {
            ("handle_delivery", "succeeded"): 1,
            ("dispatch_run", "succeeded"): 2,
            ("complete_run", "succeeded"): 2,
        }
    )
    runs = {r.recipe_id: r for r in harness.runs()}
    assert {k: (r.is_test, r.head_sha, r.conclusion) for k, r in runs.items()} == {
        "ok": (False, merge_sha, "success"),
        "crash": (False, merge_sha, "failure"),
    }
    deployments = {d["environment"]: d for d in repo.deployments.values()}
    assert set(deployments) == {"ok", "crash"}
    for recipe_id, deployment in deployments.items():
        run = runs[recipe_id]
        assert deployment["ref"] == merge_sha
        assert deployment["payload"] == {"recipe_run_id": run.id}
        assert run.github_deployment_id == deployment["id"]
        assert run.environment_url == (
            f"https://pangeo-forge.example/dashboard/recipe-run/{run.id}"
            f"?feedstock_id={run.feedstock_id}"
        )
        first = repo.deployment_statuses[deployment["id"]][0]
        assert first["environment_url"] == run.environment_url
        assert first["log_url"] == f"https://pfo.example/recipe_runs/{run.id}/logs"
    sent = [c.body for c in harness.fake.calls if (c.method, c.template) == CREATE_DEPLOYMENT]
    assert all(b["required_contexts"] == [] and b["auto_merge"] is False for b in sent)
    assert statuses(repo, deployments["ok"]) == ["in_progress", "success"]
    assert statuses(repo, deployments["crash"]) == ["in_progress", "failure"]
    bakes = runner_bakes(harness)
    assert len(bakes) == 2
    assert all("--prune" not in b["argv"] and f"--ref={merge_sha}" in b["argv"] for b in bakes)
    url = f"https://data.example/pangeo-forge/{FEEDSTOCK}/ok.zarr"
    assert runs["ok"].dataset_public_url == url

    # Redelivered, then replayed: no second run, deployment or status.
    harness.reset_calls()
    harness.deliver("pull_request", harness.pull_request_payload("closed", repo, 9))
    harness.replay(guid)
    assert await harness.work() == [("handle_delivery", "succeeded")] * 2
    assert len(harness.runs()) == 2
    assert len(repo.deployments) == 2
    assert harness.calls() == Counter({FILES: 2, CONTENTS: 2})


async def test_a_deployment_survives_a_github_error_between_its_steps(harness: Harness) -> None:
    repo, _ = merged_pull(
        harness,
        files={
            "feedstock/meta.yaml": META.replace('  - id: crash\n    object: "recipe:recipe"\n', "")
        },
    )
    harness.fake.fail_next(
        template="/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        method="POST",
        times=4,  # every attempt the client makes: the job fails and is retried
    )

    harness.deliver("pull_request", harness.pull_request_payload("closed", repo, 9))
    first = await harness.work()
    harness.make_due()
    second = await harness.work()

    assert first == [("handle_delivery", "succeeded"), ("dispatch_run", "retrying")]
    assert second == [("dispatch_run", "succeeded"), ("complete_run", "succeeded")]
    (deployment,) = repo.deployments.values()
    assert statuses(repo, deployment) == ["in_progress", "success"]
    assert len(runner_bakes(harness)) == 1


async def test_a_closed_unmerged_pull_request_needs_nothing(harness: Harness) -> None:
    repo, _ = merged_pull(harness, files={"feedstock/meta.yaml": META}, merged=False)

    harness.deliver("pull_request", harness.pull_request_payload("closed", repo, 9))
    await harness.work()

    assert harness.calls() == Counter()
    assert harness.deliveries()[-1].error == "pull request #9 was closed without merging"


async def test_a_merge_outside_feedstock_deploys_nothing(harness: Harness) -> None:
    repo, _ = merged_pull(harness, files={"README.md": "docs\n"})

    harness.deliver("pull_request", harness.pull_request_payload("closed", repo, 9))
    await harness.work()

    assert harness.calls() == Counter({FILES: 1})
    assert harness.deliveries()[-1].error == SKIP_NO_FEEDSTOCK_CHANGE.format(directory="feedstock")
    assert harness.runs() == []
    assert repo.deployments == {}


async def test_a_merge_with_invalid_meta_explains_on_the_pr(harness: Harness) -> None:
    repo, merge_sha = merged_pull(harness, files={"feedstock/meta.yaml": "recipes: []\n"})

    harness.deliver("pull_request", harness.pull_request_payload("closed", repo, 9))
    await harness.work()

    (comment,) = repo.comments_on(9)
    assert comment["body"].startswith(
        msg.MERGED_META_INVALID.format(
            sha=merge_sha,
            problems="- " + msg.RECIPES_EMPTY + "\n- " + msg.BAKERY_MISSING.format(known="`local`"),
        )
    )
    assert harness.runs() == []
    assert repo.deployments == {}
