"""Fake routes of git references: create, move and delete branches (`refs/heads/...`).

Only branches are modelled; a tag or other ref is a violation, so a test cannot pass by
creating something the fake would silently ignore.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.fake_github.routes import delete, patch, post, repo_or_404, validation_failed
from tests.fake_github.routes.pulls_write import sync_pull_head
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo

REF_EXISTS = "Reference already exists"
REF_MISSING = "Reference does not exist"
OBJECT_MISSING = "Object does not exist"
NOT_FAST_FORWARD = "Update is not a fast forward"
BAD_REF_NAME = "Reference name must start with 'refs/' and have at least two slashes."


def branch_of(gh: FakeGitHub, ref: str) -> str:
    """The branch of `heads/NAME` (a path parameter) or `refs/heads/NAME` (a body)."""
    name = ref.removeprefix("refs/")
    if not name.startswith("heads/"):
        message = f"the fake GitHub models branches only, not {ref!r}: extend routes/git.py"
        gh.violations.append(message)
        raise AssertionError(message)
    return name.removeprefix("heads/")


def ref_json(gh: FakeGitHub, repo: FakeRepo, branch: str) -> Any:
    data = gh.example("git-ref", rename={"octocat/Hello-World": repo.full_name})
    sha = repo.branches[branch]
    data["ref"] = f"refs/heads/{branch}"
    data["url"] = f"{gh.repo_url(repo)}/git/refs/heads/{branch}"
    data["object"].update(sha=sha, url=f"{gh.repo_url(repo)}/git/commits/{sha}")
    return data


def point(repo: FakeRepo, branch: str, sha: str) -> None:
    """Move BRANCH to SHA, keeping a snapshot of what it pointed at before."""
    old = repo.branches.get(branch)
    if old is not None:
        repo.freeze(old)
    repo.freeze(sha)
    repo.branches[branch] = sha
    repo.files[branch] = dict(repo.files[sha])


@post("/repos/{owner}/{repo}/git/refs")
def create_ref(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo, body = repo_or_404(gh, call), call.body
    ref, sha = body["ref"], body["sha"]
    if not ref.startswith("refs/") or ref.count("/") < 2:
        return validation_failed(gh, BAD_REF_NAME)
    branch = branch_of(gh, ref)
    if branch in repo.branches:
        return validation_failed(gh, REF_EXISTS)
    if repo.tree(sha) is None:
        return validation_failed(gh, OBJECT_MISSING)
    point(repo, branch, sha)
    return gh.json(201, ref_json(gh, repo, branch))


@patch("/repos/{owner}/{repo}/git/refs/{ref}")
def update_ref(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Move a branch: only forward unless `force`, as a push would."""
    repo, body = repo_or_404(gh, call), call.body
    branch = branch_of(gh, call.path_params["ref"])
    if branch not in repo.branches:
        return validation_failed(gh, REF_MISSING)
    sha = body["sha"]
    if repo.tree(sha) is None:
        return validation_failed(gh, OBJECT_MISSING)
    if not body.get("force") and not repo.descends_from(sha, repo.branches[branch]):
        return validation_failed(gh, NOT_FAST_FORWARD)
    point(repo, branch, sha)
    sync_pull_head(gh, repo, branch)
    return gh.json(200, ref_json(gh, repo, branch))


@delete("/repos/{owner}/{repo}/git/refs/{ref}")
def delete_ref(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    branch = branch_of(gh, call.path_params["ref"])
    if branch not in repo.branches:
        return validation_failed(gh, REF_MISSING)
    # The commits stay readable by sha, as on GitHub, after the branch is gone.
    repo.freeze(repo.branches[branch])
    del repo.branches[branch]
    repo.files.pop(branch, None)
    return httpx.Response(204)
