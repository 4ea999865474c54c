"""Fake routes that open, list, edit and merge pull requests between branches of one repository.

A pull request's changed files are the difference between its base commit (the base branch's
head when it was opened) and its head; merging applies exactly those changes to the base
branch's current files in a new commit, so a merged PR's files land on the base branch and can
be read at the merge commit's sha.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.fake_github.routes import (
    find,
    get,
    int_param,
    patch,
    post,
    put,
    replace,
    repo_or_404,
    validation_failed,
)
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, FakeRepo, blob_sha

MERGED = "Pull Request successfully merged"
NOT_MERGEABLE = "Pull Request is not mergeable"
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."


def bot(gh: FakeGitHub) -> str:
    return f"app-{gh.app_id}[bot]"


def diff_entries(
    gh: FakeGitHub, repo: FakeRepo, *, base_sha: str, head_sha: str
) -> list[dict[str, Any]]:
    """GitHub's changed-file entries from BASE_SHA's files to HEAD_SHA's, by path."""
    before, after = repo.tree(base_sha) or {}, repo.tree(head_sha) or {}
    entries = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        entry = gh.example("diff-entry-items", rename={"octocat/Hello-World": repo.full_name})[0]
        added = 0 if new is None else len(new.splitlines())
        deleted = 0 if old is None else len(old.splitlines())
        entry.update(
            sha=blob_sha(new if new is not None else old or b""),
            filename=path,
            status=status,
            additions=added,
            deletions=deleted,
            changes=added + deleted,
            patch="",
        )
        entry["contents_url"] = f"{gh.repo_url(repo)}/contents/{path}?ref={head_sha}"
        entries.append(entry)
    return entries


def sync_pull_head(gh: FakeGitHub, repo: FakeRepo, branch: str) -> None:
    """After BRANCH moved: its open pull request follows the new head and its changed files."""
    pull = repo.open_pull_from(branch)
    if pull is None or branch not in repo.branches:
        return
    pull["head"]["sha"] = repo.branches[branch]
    pull["updated_at"] = gh.now_iso()
    repo.pull_files[pull["number"]] = diff_entries(
        gh, repo, base_sha=pull["base"]["sha"], head_sha=pull["head"]["sha"]
    )


def head_branch(repo: FakeRepo, head: str) -> str | None:
    """The branch of a `head` value (`branch` or `owner:branch`); None for another owner's."""
    owner, _, branch = head.rpartition(":")
    return branch if owner in ("", repo.owner) else None


@post("/repos/{owner}/{repo}/pulls")
def create_pull(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo, body = repo_or_404(gh, call), call.body
    head, base = head_branch(repo, body.get("head", "")), body["base"]
    if head is None or head not in repo.branches:
        return validation_failed(
            gh, "Validation Failed", resource="PullRequest", field="head", code="invalid"
        )
    if base not in repo.branches:
        return validation_failed(
            gh, "Validation Failed", resource="PullRequest", field="base", code="invalid"
        )
    if repo.open_pull_from(head) is not None:
        return validation_failed(
            gh,
            "Validation Failed",
            resource="PullRequest",
            code="custom",
            message=f"A pull request already exists for {repo.owner}:{head}.",
        )
    head_sha, base_sha = repo.branches[head], repo.branches[base]
    if repo.descends_from(base_sha, head_sha):
        return validation_failed(
            gh,
            "Validation Failed",
            resource="PullRequest",
            code="custom",
            message=f"No commits between {base} and {head}",
        )
    repo.freeze(base_sha)
    number = max([0, *repo.pulls]) + 1
    pull = gh.add_pull(
        repo,
        number,
        head_sha=head_sha,
        head_ref=head,
        base_ref=base,
        user=bot(gh),
        title=body.get("title") or head,
    )
    pull["head"]["label"] = f"{repo.owner}:{head}"
    pull["base"]["label"] = f"{repo.owner}:{base}"
    pull.update(
        body=body.get("body"),
        draft=bool(body.get("draft", False)),
        mergeable=True,
        merge_commit_sha=None,
        merged_by=None,
        created_at=gh.now_iso(),
        updated_at=gh.now_iso(),
    )
    repo.pull_files[number] = diff_entries(gh, repo, base_sha=base_sha, head_sha=head_sha)
    return gh.json(201, pull)


@replace("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Filtered by state, base and `owner:branch` head, newest first by default.

    Like GitHub, a `head` without its `owner:` prefix filters nothing.
    """
    repo, query = repo_or_404(gh, call), call.query
    state = query.get("state", "open")
    pulls = [p for p in repo.pulls.values() if state in ("all", p["state"])]
    if "base" in query:
        pulls = [p for p in pulls if p["base"]["ref"] == query["base"]]
    if ":" in query.get("head", ""):
        pulls = [p for p in pulls if p["head"]["label"] == query["head"]]
    pulls.sort(key=lambda p: int(p["number"]), reverse=query.get("direction", "desc") == "desc")
    return gh.paged(call, pulls)


@patch("/repos/{owner}/{repo}/pulls/{pull_number}")
def update_pull(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    pull = find(repo.pulls, int_param(call, "pull_number"))
    body = call.body or {}
    if body.get("state") == "open" and pull["state"] == "closed":
        if pull["merged"] or repo.open_pull_from(pull["head"]["ref"]) is not None:
            return validation_failed(gh, "Validation Failed", resource="PullRequest", code="custom")
        pull.update(state="open", closed_at=None)
    elif body.get("state") == "closed" and pull["state"] == "open":
        pull.update(state="closed", closed_at=gh.now_iso())
    for key in ("title", "body"):
        if key in body:
            pull[key] = body[key]
    if "base" in body:
        pull["base"]["ref"] = body["base"]
    pull["updated_at"] = gh.now_iso()
    return gh.json(200, pull)


@put("/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def merge_pull(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Merge: 405 unless open and mergeable; 409 when `sha` is not the head any more."""
    repo = repo_or_404(gh, call)
    number = int_param(call, "pull_number")
    pull = find(repo.pulls, number)
    body = call.body or {}
    head_files = repo.tree(pull["head"]["sha"])
    base = pull["base"]["ref"]
    if pull["state"] != "open" or pull.get("mergeable") is False or head_files is None:
        return gh.error(405, NOT_MERGEABLE)
    if base not in repo.branches:
        return gh.error(405, NOT_MERGEABLE)
    if body.get("sha") not in (None, pull["head"]["sha"]):
        return gh.error(409, HEAD_MODIFIED)
    files = dict(repo.tree(base) or {})
    for entry in repo.pull_files.get(number, []):
        path = entry["filename"]
        if entry["status"] == "removed" or path not in head_files:
            files.pop(path, None)
        else:
            files[path] = head_files[path]
    label = pull["head"]["label"].replace(":", "/", 1)
    message = body.get("commit_title") or f"Merge pull request #{number} from {label}"
    sha = repo.commit(base, files, message=message)
    method = body.get("merge_method", "merge")
    commit = repo.commits[sha]
    commit["merge_method"] = method
    if method == "merge":
        commit["parents"].append(pull["head"]["sha"])
    pull.update(
        state="closed",
        merged=True,
        merged_at=gh.now_iso(),
        closed_at=gh.now_iso(),
        updated_at=gh.now_iso(),
        merge_commit_sha=sha,
        merged_by=gh.user(bot(gh)),
    )
    return gh.json(200, {"sha": sha, "merged": True, "message": MERGED})


@get("/repos/{owner}/{repo}/pulls/{pull_number}/merge")
def check_merged(gh: FakeGitHub, call: Call) -> httpx.Response:
    pull = find(repo_or_404(gh, call).pulls, int_param(call, "pull_number"))
    return httpx.Response(204) if pull.get("merged") else gh.error(404, "Not Found")
