"""GitHub's JSON objects, part 5: comments on issues and pull requests, and their reactions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pangeo_forge_orchestrator.sandbox.objects_base import (
    JSON,
    Urls,
    check_association,
    iso,
    node_id,
    user,
)

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def reaction_rollup(url: str, counts: Mapping[str, int] = {}) -> JSON:
    """The `reactions` summary of a comment or issue: a count per reaction and the total."""
    unknown = sorted(set(counts) - set(REACTIONS))
    if unknown:
        raise ValueError(f"unknown reactions: {', '.join(unknown)}")
    per_kind = {kind: counts.get(kind, 0) for kind in REACTIONS}
    return {"url": url, "total_count": sum(per_kind.values()), **per_kind}


def issue_comment(
    urls: Urls,
    *,
    full_name: str,
    comment_id: int,
    issue_number: int,
    body: str,
    user_login: str,
    created_at: datetime,
    updated_at: datetime,
    is_pull: bool = True,
    author_association: str = "NONE",
    reactions: Mapping[str, int] = {},
    performed_via_github_app: Mapping[str, Any] | None = None,
) -> JSON:
    """A comment on an issue or, by default, on a pull request (`issue-comment`)."""
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    url = f"{api}/issues/comments/{comment_id}"
    page = "pull" if is_pull else "issues"
    return {
        "url": url,
        "html_url": f"{web}/{page}/{issue_number}#issuecomment-{comment_id}",
        "issue_url": f"{api}/issues/{issue_number}",
        "id": comment_id,
        "node_id": node_id("IssueComment", comment_id),
        "user": user(urls, user_login),
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "author_association": check_association(author_association),
        "body": body,
        "reactions": reaction_rollup(f"{url}/reactions", reactions),
        "performed_via_github_app": (
            None if performed_via_github_app is None else dict(performed_via_github_app)
        ),
    }


def reaction(
    urls: Urls, *, reaction_id: int, content: str, user_login: str, created_at: datetime
) -> JSON:
    """One reaction (POST/GET issues/comments/{id}/reactions)."""
    if content not in REACTIONS:
        raise ValueError(f"unknown reaction {content!r}")
    return {
        "id": reaction_id,
        "node_id": node_id("Reaction", reaction_id),
        "user": user(urls, user_login),
        "content": content,
        "created_at": iso(created_at),
    }
