"""GitHub's JSON objects, part 4: pull requests and the files they change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pangeo_forge_orchestrator.sandbox.objects_base import (
    JSON,
    Urls,
    check_association,
    iso,
    iso_or_none,
    node_id,
    user,
)

DIFF_STATUSES = frozenset(
    {"added", "removed", "modified", "renamed", "copied", "changed", "unchanged"}
)
# Fields GitHub gives for one pull request but not in a list of them (pull-request-simple).
_FULL_ONLY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


def _side(urls: Urls, *, repo: Mapping[str, Any], ref: str, sha: str) -> JSON:
    owner = repo["owner"]["login"]
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(urls, owner, kind=repo["owner"]["type"]),
        "repo": dict(repo),
    }


def _mergeability(state: str, draft: bool, mergeable: bool | None) -> tuple[bool | None, str]:
    if state != "open":
        return None, "unknown"  # GitHub stops computing it once a pull request is closed
    if mergeable is None:
        mergeable = True
    if draft:
        return mergeable, "draft"
    return mergeable, "clean" if mergeable else "dirty"


def pull_request(
    urls: Urls,
    *,
    repo: Mapping[str, Any],
    pull_id: int,
    number: int,
    state: str,
    title: str,
    body: str | None,
    user_login: str,
    head_ref: str,
    head_sha: str,
    base_ref: str,
    base_sha: str,
    created_at: datetime,
    updated_at: datetime,
    closed_at: datetime | None,
    merged_at: datetime | None,
    merge_commit_sha: str | None,
    merged_by: str | None,
    draft: bool,
    changed_files: int,
    additions: int,
    deletions: int,
    commits: int,
    head_repo: Mapping[str, Any] | None = None,
    author_association: str = "NONE",
    comments: int = 0,
    mergeable: bool | None = None,
) -> JSON:
    """One pull request (`pull-request`); `head_repo` is the fork it comes from, if any.

    Raises ValueError for impossible combinations (merged but open, closed with no time, ...).
    """
    if state not in ("open", "closed"):
        raise ValueError(f"pull request state must be open or closed, not {state!r}")
    if (state == "closed") != (closed_at is not None):
        raise ValueError("closed_at is set exactly when the pull request is closed")
    if merged_at is not None and state != "closed":
        raise ValueError("a merged pull request is closed")
    if (merged_by is not None) and merged_at is None:
        raise ValueError("merged_by needs merged_at")
    full_name = repo["full_name"]
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    pull_api = f"{api}/pulls/{number}"
    issue_api = f"{api}/issues/{number}"
    html = f"{web}/pull/{number}"
    able, mergeable_state = _mergeability(state, draft, mergeable)
    links = {
        "self": pull_api,
        "html": html,
        "issue": issue_api,
        "comments": f"{issue_api}/comments",
        "review_comments": f"{pull_api}/comments",
        "review_comment": f"{api}/pulls/comments{{/number}}",
        "commits": f"{pull_api}/commits",
        "statuses": f"{api}/statuses/{head_sha}",
    }
    return {
        "url": pull_api,
        "id": pull_id,
        "node_id": node_id("PullRequest", pull_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": user(urls, user_login),
        "body": body,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "closed_at": iso_or_none(closed_at),
        "merged_at": iso_or_none(merged_at),
        "merge_commit_sha": merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "milestone": None,
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "head": _side(urls, repo=head_repo or repo, ref=head_ref, sha=head_sha),
        "base": _side(urls, repo=repo, ref=base_ref, sha=base_sha),
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": check_association(author_association),
        "auto_merge": None,
        "active_lock_reason": None,
        "draft": draft,
        "merged": merged_at is not None,
        "mergeable": able,
        "rebaseable": able,
        "mergeable_state": mergeable_state,
        "merged_by": None if merged_by is None else user(urls, merged_by),
        "comments": comments,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": commits,
        "additions": additions,
        "deletions": deletions,
        "changed_files": changed_files,
    }


def pull_request_simple(pull: Mapping[str, Any]) -> JSON:
    """PULL as an item of GET /repos/{o}/{r}/pulls, which leaves out the counts and merge state."""
    return {k: v for k, v in pull.items() if k not in _FULL_ONLY}


def pull_request_minimal(pull: Mapping[str, Any]) -> JSON:
    """PULL as check runs list it (`pull-request-minimal`)."""

    def side(name: str) -> JSON:
        part = pull[name]
        repo = part["repo"]
        ref = {"id": repo["id"], "url": repo["url"], "name": repo["name"]}
        return {"ref": part["ref"], "sha": part["sha"], "repo": ref}

    return {
        "id": pull["id"],
        "number": pull["number"],
        "url": pull["url"],
        "head": side("head"),
        "base": side("base"),
    }


def merge_result(
    *, sha: str, merged: bool = True, message: str = "Pull Request successfully merged"
) -> JSON:
    """PUT pulls/{n}/merge (200)."""
    return {"sha": sha, "merged": merged, "message": message}


def diff_entry(
    urls: Urls,
    *,
    full_name: str,
    filename: str,
    status: str,
    blob_sha: str,
    additions: int,
    deletions: int,
    ref: str,
    previous_filename: str | None = None,
    patch: str | None = None,
) -> JSON:
    """One file of GET pulls/{n}/files; `ref` is the head commit the URLs point into."""
    if status not in DIFF_STATUSES:
        raise ValueError(f"unknown diff status {status!r}")
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    qpath, qref = quote(filename), quote(ref)
    entry: JSON = {
        "sha": blob_sha,
        "filename": filename,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "blob_url": f"{web}/blob/{qref}/{qpath}",
        "raw_url": f"{web}/raw/{qref}/{qpath}",
        "contents_url": f"{api}/contents/{qpath}?ref={quote(ref, safe='')}",
    }
    if patch is not None:
        entry["patch"] = patch
    if previous_filename is not None:
        entry["previous_filename"] = previous_filename
    return entry
