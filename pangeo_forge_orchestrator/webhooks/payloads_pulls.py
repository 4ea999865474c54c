"""GitHub's pull-request, comment and check payloads turned into the typed values handlers take.

Like payloads.py, the only reader of these JSON shapes: a second git provider would add a
second parser producing the same values (DESIGN §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pangeo_forge_orchestrator.core.events import ActorKind, RepositoryRef
from pangeo_forge_orchestrator.webhooks.payloads import (
    Payload,
    PayloadError,
    parse_actor,
    parse_repository,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestEvent:
    action: str
    installation_id: int
    repo: RepositoryRef
    number: int
    title: str
    draft: bool
    head_sha: str
    merged: bool
    merge_sha: str | None
    merged_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestComment:
    action: str
    installation_id: int
    repo: RepositoryRef
    issue_number: int
    on_pull_request: bool
    comment_id: int
    body: str | None
    login: str
    kind: ActorKind | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRerequested:
    """A check run's or check suite's "Re-run" button, pressed by `login`."""

    installation_id: int
    repo: RepositoryRef
    head_sha: str
    login: str
    kind: ActorKind | None
    pr_number: int | None
    # The pressed check run's `external_id` (check_run only): which of our checks it was.
    external_id: str | None = None


def _mapping(payload: Payload, key: str) -> Payload:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise PayloadError(f"no {key} object")
    return value


def _int(payload: Payload, key: str) -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"{key} is not an integer")
    return value


def _str(payload: Payload, key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{key} is not a non-empty string")
    return value


def _common(payload: Payload) -> tuple[str, int, RepositoryRef]:
    action = _str(payload, "action")
    installation_id = _int(_mapping(payload, "installation"), "id")
    repo = parse_repository(payload.get("repository"))
    if repo is None:
        raise PayloadError("no repository full_name")
    return action, installation_id, repo


def parse_pull_request(payload: Payload) -> PullRequestEvent:
    action, installation_id, repo = _common(payload)
    pull = _mapping(payload, "pull_request")
    head = _mapping(pull, "head")
    merged_by = parse_actor(pull.get("merged_by"))
    merge_sha = pull.get("merge_commit_sha")
    return PullRequestEvent(
        action=action,
        installation_id=installation_id,
        repo=repo,
        number=_int(pull, "number"),
        title=pull.get("title") or "",
        draft=pull.get("draft") is True,
        head_sha=_str(head, "sha"),
        merged=pull.get("merged") is True,
        merge_sha=merge_sha if isinstance(merge_sha, str) and merge_sha else None,
        merged_by=merged_by.login if merged_by else None,
    )


def parse_issue_comment(payload: Payload) -> PullRequestComment:
    action, installation_id, repo = _common(payload)
    issue = _mapping(payload, "issue")
    comment = _mapping(payload, "comment")
    author = parse_actor(comment.get("user"))
    if author is None:
        raise PayloadError("comment has no user login")
    created = _str(comment, "created_at")
    try:
        created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"comment created_at {created!r} is not a timestamp") from None
    body = comment.get("body")
    return PullRequestComment(
        action=action,
        installation_id=installation_id,
        repo=repo,
        issue_number=_int(issue, "number"),
        # GitHub marks an issue that is a pull request with a `pull_request` object.
        on_pull_request=isinstance(issue.get("pull_request"), dict),
        comment_id=_int(comment, "id"),
        body=body if isinstance(body, str) else None,
        login=author.login,
        kind=author.kind,
        created_at=created_at,
    )


def _rerequested(payload: Payload, key: str) -> CheckRerequested:
    _action, installation_id, repo = _common(payload)
    check = _mapping(payload, key)
    sender = parse_actor(payload.get("sender"))
    if sender is None:
        raise PayloadError("no sender login")
    pulls = check.get("pull_requests") or []
    numbers = [p.get("number") for p in pulls if isinstance(p, dict)]
    first = next((n for n in numbers if isinstance(n, int) and not isinstance(n, bool)), None)
    external_id = check.get("external_id")
    return CheckRerequested(
        installation_id=installation_id,
        repo=repo,
        head_sha=_str(check, "head_sha"),
        login=sender.login,
        kind=sender.kind,
        pr_number=first,
        external_id=external_id if isinstance(external_id, str) and external_id else None,
    )


def parse_check_run(payload: Payload) -> CheckRerequested:
    return _rerequested(payload, "check_run")


def parse_check_suite(payload: Payload) -> CheckRerequested:
    return _rerequested(payload, "check_suite")
