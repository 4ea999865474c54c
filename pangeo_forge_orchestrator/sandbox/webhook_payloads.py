"""Bodies of the webhooks the GitHub simulator sends, shaped like GitHub's deliveries.

They embed the REST objects of `objects` (a pull request, a repository, a comment), trimmed to
what webhook payloads carry: GitHub's webhook schemas list their fields exhaustively, and a few
REST-only fields (`network_count`, an App's `client_id`) never appear in a delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pangeo_forge_orchestrator.sandbox.objects_base import JSON, Urls, node_id, user
from pangeo_forge_orchestrator.sandbox.objects_comments import reaction_rollup

# REST repository fields a webhook's `repository` never has.
_REST_ONLY_REPO = frozenset({"network_count", "subscribers_count", "temp_clone_token"})
_REST_ONLY_APP = frozenset({"client_id", "installations_count"})
_INSTALLATION_REPO_KEYS = ("id", "node_id", "name", "full_name", "private")
PULL_REQUEST_ACTIONS = frozenset({"opened", "synchronize", "closed", "reopened"})
ISSUE_COMMENT_ACTIONS = frozenset({"created", "edited", "deleted"})
INSTALLATION_ACTIONS = frozenset({"created", "deleted"})


def webhook_repository(repo: Mapping[str, Any]) -> JSON:
    """REPO (a REST repository) as webhook payloads carry it."""
    return {k: v for k, v in repo.items() if k not in _REST_ONLY_REPO}


def webhook_app(app: Mapping[str, Any]) -> JSON:
    """APP (a REST integration) as webhook payloads carry it."""
    return {k: v for k, v in app.items() if k not in _REST_ONLY_APP}


def installation_lite(installation_id: int) -> JSON:
    """The `installation` every App delivery carries: which installation it is for."""
    return {"id": installation_id, "node_id": node_id("IntegrationInstallation", installation_id)}


def organization(urls: Urls, owner: Mapping[str, Any]) -> JSON:
    """The `organization` of a delivery about a repository owned by OWNER (a simple-user)."""
    api = f"{urls.api}/orgs/{owner['login']}"
    return {
        "login": owner["login"],
        "id": owner["id"],
        "node_id": owner["node_id"],
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": owner["avatar_url"],
        "description": None,
    }


def _envelope(
    urls: Urls, *, action: str, repo: Mapping[str, Any], sender: str, installation_id: int
) -> JSON:
    """The fields every repository delivery of an App shares."""
    body: JSON = {
        "action": action,
        "repository": webhook_repository(repo),
        "sender": user(urls, sender),
        "installation": installation_lite(installation_id),
    }
    if repo["owner"]["type"] == "Organization":
        body["organization"] = organization(urls, repo["owner"])
    return body


def _webhook_pull(pull: Mapping[str, Any]) -> JSON:
    sides = {
        name: {**pull[name], "repo": webhook_repository(pull[name]["repo"])}
        for name in ("head", "base")
    }
    return {**pull, **sides}


def _check_pull_for(action: str, pull: Mapping[str, Any]) -> None:
    """Refuse a pull request whose state contradicts ACTION (GitHub never sends those)."""
    if action in ("opened", "reopened", "synchronize") and pull["state"] != "open":
        raise ValueError(f"a pull_request {action} delivery needs an open pull request")
    if action == "closed" and pull["state"] != "closed":
        raise ValueError("a pull_request closed delivery needs a closed pull request")


def pull_request_event(
    urls: Urls,
    *,
    action: str,
    pull: Mapping[str, Any],
    repo: Mapping[str, Any],
    sender: str,
    installation_id: int,
    before: str | None = None,
    after: str | None = None,
) -> JSON:
    """A `pull_request` delivery: opened, synchronize (with before/after shas), closed, reopened."""
    if action not in PULL_REQUEST_ACTIONS:
        raise ValueError(f"pull_request action {action!r} is not one the simulator sends")
    _check_pull_for(action, pull)
    if (action == "synchronize") != (before is not None and after is not None):
        raise ValueError("before and after are given exactly for synchronize")
    if after is not None and after != pull["head"]["sha"]:
        raise ValueError("after must be the pull request's head sha")
    body = _envelope(urls, action=action, repo=repo, sender=sender, installation_id=installation_id)
    body["number"] = pull["number"]
    if action == "synchronize":
        body["before"], body["after"] = before, after
    body["pull_request"] = _webhook_pull(pull)
    return body


def _issue_of_pull(pull: Mapping[str, Any], *, issue_id: int) -> JSON:
    """PULL seen as an issue, as issue_comment deliveries show it (with `pull_request` links)."""
    issue_api = pull["issue_url"]
    return {
        "url": issue_api,
        "repository_url": pull["base"]["repo"]["url"],
        "labels_url": f"{issue_api}/labels{{/name}}",
        "comments_url": f"{issue_api}/comments",
        "events_url": f"{issue_api}/events",
        "html_url": pull["html_url"],
        "id": issue_id,
        # A pull request's issue is the pull request to the GraphQL API: same node.
        "node_id": pull["node_id"],
        "number": pull["number"],
        "title": pull["title"],
        "user": pull["user"],
        "labels": list(pull["labels"]),
        "state": pull["state"],
        "locked": pull["locked"],
        "assignee": pull["assignee"],
        "assignees": list(pull["assignees"]),
        "milestone": pull["milestone"],
        "comments": pull.get("comments", 0),
        "created_at": pull["created_at"],
        "updated_at": pull["updated_at"],
        "closed_at": pull["closed_at"],
        "author_association": pull["author_association"],
        "active_lock_reason": None,
        "draft": pull["draft"],
        "performed_via_github_app": None,
        "pull_request": {
            "url": pull["url"],
            "html_url": pull["html_url"],
            "diff_url": pull["diff_url"],
            "patch_url": pull["patch_url"],
            "merged_at": pull["merged_at"],
        },
        "body": pull["body"],
        "reactions": reaction_rollup(f"{issue_api}/reactions"),
        "timeline_url": f"{issue_api}/timeline",
        "state_reason": None,
    }


def issue_comment_event(
    urls: Urls,
    *,
    action: str,
    comment: Mapping[str, Any],
    pull: Mapping[str, Any],
    repo: Mapping[str, Any],
    sender: str,
    installation_id: int,
    changes: Mapping[str, Any] | None = None,
    issue_id: int | None = None,
) -> JSON:
    """An `issue_comment` delivery about COMMENT on the pull request PULL.

    `changes` (e.g. {"body": {"from": old}}) is given exactly for "edited"; `issue_id` defaults
    to the pull request's id (GitHub numbers issues separately; nothing here reads it).
    """
    if action not in ISSUE_COMMENT_ACTIONS:
        raise ValueError(f"issue_comment action {action!r} is not one the simulator sends")
    if (action == "edited") != (changes is not None):
        raise ValueError("changes are given exactly for an edited comment")
    if not comment["issue_url"].endswith(f"/issues/{pull['number']}"):
        raise ValueError("the comment is not on this pull request")
    body = _envelope(urls, action=action, repo=repo, sender=sender, installation_id=installation_id)
    if changes is not None:
        body["changes"] = dict(changes)
    body["issue"] = _issue_of_pull(pull, issue_id=pull["id"] if issue_id is None else issue_id)
    app = comment.get("performed_via_github_app")
    body["comment"] = {
        **comment,
        "performed_via_github_app": None if app is None else webhook_app(app),
    }
    return body


def installation_event(
    urls: Urls,
    *,
    action: str,
    installation: Mapping[str, Any],
    repositories: Sequence[Mapping[str, Any]],
    sender: str,
    requester: str | None = None,
) -> JSON:
    """An `installation` delivery; REPOSITORIES may be full repositories, only ids are kept.

    `requester` (who asked an owner to install the App) exists on "created" only.
    """
    if action not in INSTALLATION_ACTIONS:
        raise ValueError(f"installation action {action!r} is not one the simulator sends")
    if requester is not None and action != "created":
        raise ValueError("only a created installation has a requester")
    body: JSON = {
        "action": action,
        "installation": dict(installation),
        "repositories": [{k: r[k] for k in _INSTALLATION_REPO_KEYS} for r in repositories],
        "sender": user(urls, sender),
    }
    if requester is not None:
        body["requester"] = user(urls, requester)
    return body
