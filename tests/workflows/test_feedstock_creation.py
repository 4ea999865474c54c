"""A merged staged-recipes PR becomes `<name>-feedstock`, resumably."""

from __future__ import annotations

from collections import Counter

import pytest

from pangeo_forge_orchestrator.core.feedstock_creation import STEPS
from tests.fake_github import FakeRepo
from tests.workflows.harness import HEAD_SHA, META, ORG, STAGED, Harness, as_bytes

pytestmark = pytest.mark.anyio

RECIPE = "recipe = 'ocean'\n"
FILES: dict[str, str | bytes] = {"recipes/ocean/meta.yaml": META, "recipes/ocean/recipe.py": RECIPE}
NEW_FEEDSTOCK = f"{ORG}/ocean-feedstock"
CREATE_REPO = ("POST", "/orgs/{org}/repos")
PUT_FILE = ("PUT", "/repos/{owner}/{repo}/contents/{path}")
OPEN_PR = ("POST", "/repos/{owner}/{repo}/pulls")
MERGE = ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge")


def merged_staged_recipe(harness: Harness) -> FakeRepo:
    """staged-recipes PR #3, adding recipes/ocean/, merged into main."""
    staged = harness.add_feedstock(STAGED)
    merge_sha = staged.commit(
        "main", {k: as_bytes(v) for k, v in FILES.items()}, message="Merge #3"
    )
    pull = harness.fake.add_pull(
        staged, 3, head_sha=HEAD_SHA, files=FILES, title="Add ocean", state="closed", merged=True
    )
    pull.update(merge_commit_sha=merge_sha, merged_by=harness.fake.user("maintainer"))
    return staged


def assert_feedstock_made(harness: Harness, staged: FakeRepo) -> None:
    feedstock = harness.repo(NEW_FEEDSTOCK)
    main = feedstock.tree("main") or {}
    assert main["feedstock/meta.yaml"] == META.encode()
    assert main["feedstock/recipe.py"] == RECIPE.encode()
    assert main["LICENSE"] == b"apache-2.0 license text\n"
    assert main[".gitignore"] == b"# Python .gitignore template\n"
    assert feedstock.metadata["homepage"] == "https://pangeo-forge.org"
    assert set(feedstock.branches) == {"main"}
    (merged,) = (p for p in feedstock.pulls.values() if p["merged"])
    assert merged["title"] == "Create ocean-feedstock"
    cleanup = [p for p in staged.pulls.values() if p["title"] == "Cleanup ocean"]
    assert [p["merged"] for p in cleanup] == [True]
    assert not any(path.startswith("recipes/ocean/") for path in staged.tree("main") or {})
    assert set(staged.branches) == {"main"}
    assert NEW_FEEDSTOCK in {row.spec for row in harness.feedstocks()}
    (job,) = [j for j in harness.jobs() if j.kind == "create_feedstock"]
    assert (job.status, job.payload["done"]) == ("succeeded", [step.value for step in STEPS])


async def test_a_merged_staged_recipe_becomes_a_feedstock(harness: Harness) -> None:
    staged = merged_staged_recipe(harness)

    harness.deliver("pull_request", harness.pull_request_payload("closed", staged, 3))
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded"), ("create_feedstock", "succeeded")]
    assert_feedstock_made(harness, staged)
    calls = harness.calls()
    assert (calls[CREATE_REPO], calls[PUT_FILE], calls[OPEN_PR], calls[MERGE]) == (1, 2, 2, 2)


async def test_a_github_error_midway_resumes_without_a_second_repository(
    harness: Harness,
) -> None:
    staged = merged_staged_recipe(harness)
    # The feedstock PR cannot be opened: GitHub answers 502 to every try of the client.
    harness.fake.fail_next(template="/repos/{owner}/{repo}/pulls", method="POST", times=4)

    harness.deliver("pull_request", harness.pull_request_payload("closed", staged, 3))
    first = await harness.work()

    assert first == [("handle_delivery", "succeeded"), ("create_feedstock", "retrying")]
    (job,) = [j for j in harness.jobs() if j.kind == "create_feedstock"]
    assert job.payload["done"] == ["create-repository", "create-branch", "copy-files"]
    assert "502" in job.last_error

    harness.make_due()
    second = await harness.work()

    assert second == [("create_feedstock", "succeeded")]
    assert_feedstock_made(harness, staged)
    calls = harness.calls()
    assert calls[CREATE_REPO] == 1
    assert calls[PUT_FILE] == 2  # nothing copied twice
    assert calls[OPEN_PR] == 4 + 2  # the four refused tries, then the two that worked


async def test_a_repository_made_by_an_interrupted_attempt_is_reused(harness: Harness) -> None:
    staged = merged_staged_recipe(harness)
    # An attempt created the repository and died before recording it.
    earlier = harness.fake.add_repo(NEW_FEEDSTOCK, installation_id=staged.installation_id)

    harness.deliver("pull_request", harness.pull_request_payload("closed", staged, 3))
    await harness.work()

    assert harness.repo(NEW_FEEDSTOCK) is earlier
    assert harness.calls()[CREATE_REPO] == 1  # answered 422 "name already exists"
    assert [p["merged"] for p in earlier.pulls.values()] == [True]


async def test_a_replayed_merge_creates_nothing_again(harness: Harness) -> None:
    staged = merged_staged_recipe(harness)
    guid = harness.deliver("pull_request", harness.pull_request_payload("closed", staged, 3))
    await harness.work()
    harness.reset_calls()

    harness.replay(guid)
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")]
    assert harness.calls() == Counter(
        {("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"): 1}
    )
    assert len([j for j in harness.jobs() if j.kind == "create_feedstock"]) == 1
