"""GitHub's JSON objects, part 2: repositories and who may do what in them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pangeo_forge_orchestrator.sandbox.objects_base import (
    JSON,
    Urls,
    iso,
    node_id,
    user,
)

# Repository fields a caller may override (what PATCH /repos and repo creation can set).
REPO_SETTINGS = frozenset(
    {
        "description",
        "homepage",
        "language",
        "topics",
        "visibility",
        "is_template",
        "archived",
        "has_issues",
        "has_projects",
        "has_wiki",
        "has_downloads",
        "has_discussions",
        "has_pages",
        "allow_forking",
        "allow_squash_merge",
        "allow_merge_commit",
        "allow_rebase_merge",
        "allow_auto_merge",
        "allow_update_branch",
        "delete_branch_on_merge",
        "web_commit_signoff_required",
        "squash_merge_commit_title",
        "squash_merge_commit_message",
        "merge_commit_title",
        "merge_commit_message",
    }
)


def _repo_urls(api: str) -> JSON:
    """The hypermedia URLs every repository object carries (RFC 6570 templates where GitHub has)."""
    return {
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
    }


def repository(
    urls: Urls,
    *,
    repo_id: int,
    owner: str,
    name: str,
    private: bool,
    default_branch: str,
    clone_url: str,
    created_at: datetime,
    updated_at: datetime,
    pushed_at: datetime | None,
    settings: Mapping[str, Any] = {},
    owner_type: str = "Organization",
    open_issues: int = 0,
    size: int = 0,
) -> JSON:
    """A repository (full-repository; also valid as repository and minimal-repository).

    `settings` overrides the fields in REPO_SETTINGS; any other key raises ValueError.
    """
    unknown = sorted(set(settings) - REPO_SETTINGS)
    if unknown:
        raise ValueError(f"not repository settings: {', '.join(unknown)}")
    full_name = f"{owner}/{name}"
    api, web = urls.repo_api(full_name), urls.repo_web(full_name)
    host = urlsplit(urls.web).netloc
    repo: JSON = {
        "id": repo_id,
        "node_id": node_id("Repository", repo_id),
        "name": name,
        "full_name": full_name,
        "private": private,
        "owner": user(urls, owner, kind=owner_type),
        "html_url": web,
        "description": None,
        "fork": False,
        "url": api,
        **_repo_urls(api),
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        # GitHub stamps pushed_at when it creates a repository: full-repository never has null.
        "pushed_at": iso(pushed_at or created_at),
        "git_url": f"git://{host}/{full_name}.git",
        "ssh_url": f"git@{host}:{full_name}.git",
        "clone_url": clone_url,  # the simulator's own (a file:// URL the bakery can clone)
        "svn_url": web,
        "homepage": None,
        "size": size,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if private else "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": default_branch,
        "allow_squash_merge": True,
        "allow_merge_commit": True,
        "allow_rebase_merge": True,
        "allow_auto_merge": False,
        "allow_update_branch": False,
        "delete_branch_on_merge": False,
        "custom_properties": {},
        "network_count": 0,
        "subscribers_count": 0,
    }
    repo.update(settings)
    return repo


def installation_repositories(repos: Sequence[Mapping[str, Any]]) -> JSON:
    """GET /installation/repositories: every repository the installation can reach."""
    return {
        "total_count": len(repos),
        "repository_selection": "all",
        "repositories": [dict(r) for r in repos],
    }


# Role -> (legacy `permission`, the role's abilities). Legacy knows admin/write/read/none only.
_ROLES: Mapping[str, tuple[str, frozenset[str]]] = {
    "admin": ("admin", frozenset({"pull", "triage", "push", "maintain", "admin"})),
    "maintain": ("write", frozenset({"pull", "triage", "push", "maintain"})),
    "write": ("write", frozenset({"pull", "triage", "push"})),
    "triage": ("read", frozenset({"pull", "triage"})),
    "read": ("read", frozenset({"pull"})),
    "none": ("none", frozenset()),
}


def collaborator_permission(urls: Urls, *, login: str, permission: str) -> JSON:
    """GET collaborators/{user}/permission for a role admin|maintain|write|triage|read|none."""
    if permission not in _ROLES:
        raise ValueError(f"unknown repository role {permission!r}")
    legacy, abilities = _ROLES[permission]
    flags = {name: name in abilities for name in ("pull", "triage", "push", "maintain", "admin")}
    return {
        "permission": legacy,
        "role_name": permission,
        "user": {**user(urls, login), "permissions": flags, "role_name": permission},
    }
