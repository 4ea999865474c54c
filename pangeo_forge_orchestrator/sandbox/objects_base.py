"""GitHub's JSON objects, part 1: URLs, ids, users, the App and its installations, errors.

Every builder returns a fresh dict shaped like GitHub's answer (the response schemas of GitHub's
OpenAPI description), built from parameters and GitHub's URL patterns, never from samples.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

JSON = dict[str, Any]

DOCUMENTATION_URL = "https://docs.github.com/rest"

# What the pangeo-forge App asks for: checks, statuses and deployments to report runs, contents
# and pull requests to move recipes, issues to comment, administration to create feedstocks.
APP_PERMISSIONS: Mapping[str, str] = {
    "administration": "write",
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
APP_EVENTS: tuple[str, ...] = ("check_run", "check_suite", "issue_comment", "pull_request", "push")

AUTHOR_ASSOCIATIONS = frozenset(
    {
        "COLLABORATOR",
        "CONTRIBUTOR",
        "FIRST_TIMER",
        "FIRST_TIME_CONTRIBUTOR",
        "MANNEQUIN",
        "MEMBER",
        "NONE",
        "OWNER",
    }
)


@dataclass(frozen=True)
class Urls:
    """The two roots a simulated GitHub answers under: its REST API and its web pages."""

    api: str  # e.g. "http://127.0.0.1:8000/sandbox/github", no trailing slash
    web: str  # stands for https://github.com, e.g. "http://127.0.0.1:8000/sandbox/web"

    def repo_api(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"

    def repo_web(self, full_name: str) -> str:
        return f"{self.web}/{full_name}"


def iso(when: datetime) -> str:
    """Write WHEN as GitHub does: UTC, whole seconds, `Z` suffix; a naive time is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_or_none(when: datetime | None) -> str | None:
    return None if when is None else iso(when)


def node_id(kind: str, ident: int | str) -> str:
    """A global node id in GitHub's legacy encoding, e.g. base64("010:Repository42")."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode("ascii")


def stable_id(text: str) -> int:
    """A positive id derived from TEXT, the same on every run (GitHub ids are plain integers)."""
    digest = hashlib.sha256(text.encode()).digest()
    return 10_000_000 + int.from_bytes(digest[:4], "big") % 90_000_000


def fake_sha(text: str) -> str:
    """A 40-hex sha standing for an object the simulator does not track (a tree, a suite)."""
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def user(urls: Urls, login: str, *, kind: str | None = None) -> JSON:
    """A simple-user; `kind` defaults to "Bot" for `name[bot]` logins, else "User"."""
    kind = kind or ("Bot" if login.endswith("[bot]") else "User")
    # Logins are case-insensitive on GitHub, so "Alice" and "alice" are one account.
    uid = stable_id(login.lower())
    api = f"{urls.api}/users/{quote(login, safe='')}"
    if kind == "Bot":
        html = f"{urls.web}/apps/{quote(login.removesuffix('[bot]'), safe='')}"
    else:
        html = f"{urls.web}/{quote(login, safe='')}"
    return {
        "login": login,
        "id": uid,
        "node_id": node_id(kind, uid),
        "avatar_url": f"{urls.web}/{quote(login, safe='')}.png",
        "gravatar_id": "",
        "url": api,
        "html_url": html,
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": kind,
        "site_admin": False,
    }


def app(
    urls: Urls,
    *,
    app_id: int,
    slug: str,
    owner: str,
    created_at: datetime,
    owner_type: str = "Organization",
    external_url: str | None = None,
    permissions: Mapping[str, str] = APP_PERMISSIONS,
    events: Sequence[str] = APP_EVENTS,
) -> JSON:
    """The App itself (`integration`): GET /app, and `app` inside check runs."""
    html = f"{urls.web}/apps/{quote(slug, safe='')}"
    return {
        "id": app_id,
        "slug": slug,
        "node_id": node_id("Integration", app_id),
        "client_id": f"Iv1.{fake_sha(slug)[:16]}",
        "owner": user(urls, owner, kind=owner_type),
        "name": slug,
        "description": None,
        "external_url": external_url or html,
        "html_url": html,
        "created_at": iso(created_at),
        "updated_at": iso(created_at),
        "permissions": dict(permissions),
        "events": list(events),
        "installations_count": 1,
    }


def installation(
    urls: Urls,
    *,
    installation_id: int,
    app_id: int,
    app_slug: str,
    account: str,
    created_at: datetime,
    account_type: str = "Organization",
    permissions: Mapping[str, str] = APP_PERMISSIONS,
    events: Sequence[str] = APP_EVENTS,
) -> JSON:
    """One installation of the App on an account (GET /app/installations items)."""
    owner = user(urls, account, kind=account_type)
    if account_type == "Organization":
        settings = f"{urls.web}/organizations/{quote(account, safe='')}/settings"
    else:
        settings = f"{urls.web}/settings"
    return {
        "id": installation_id,
        "account": owner,
        "repository_selection": "all",
        "access_tokens_url": f"{urls.api}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{settings}/installations/{installation_id}",
        "app_id": app_id,
        "app_slug": app_slug,
        "target_id": owner["id"],
        "target_type": account_type,
        "permissions": dict(permissions),
        "events": list(events),
        "created_at": iso(created_at),
        "updated_at": iso(created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def installation_token(
    *,
    token: str,
    expires_at: datetime,
    permissions: Mapping[str, str] = APP_PERMISSIONS,
) -> JSON:
    """The answer of POST /app/installations/{id}/access_tokens (201)."""
    return {
        "token": token,
        "expires_at": iso(expires_at),
        "permissions": dict(permissions),
        "repository_selection": "all",
    }


def hook_config(*, url: str, secret_set: bool = True) -> JSON:
    """The App's webhook configuration; like GitHub, a set secret is shown masked."""
    config: JSON = {"content_type": "json", "insecure_ssl": "0", "url": url}
    if secret_set:
        config["secret"] = "********"  # noqa: S105 - GitHub's mask, not a secret
    return config


def _delivery_status(status_code: int) -> str:
    if 200 <= status_code < 300:
        return "OK"
    if status_code == 0:
        return "failed to connect to host"
    return f"Invalid HTTP Response: {status_code}"


def hook_delivery_item(
    *,
    delivery_id: int,
    guid: str,
    delivered_at: datetime,
    status_code: int,
    event: str,
    action: str | None,
    installation_id: int | None,
    repository_id: int | None,
    redelivery: bool,
    duration: float = 0.0,
) -> JSON:
    """One delivery in GET /app/hook/deliveries; status_code 0 means no connection."""
    return {
        "id": delivery_id,
        "guid": guid,
        "delivered_at": iso(delivered_at),
        "redelivery": redelivery,
        "duration": duration,
        "status": _delivery_status(status_code),
        "status_code": status_code,
        "event": event,
        "action": action,
        "installation_id": installation_id,
        "repository_id": repository_id,
        "throttled_at": None,
    }


def hook_delivery(
    item: Mapping[str, Any],
    *,
    url: str,
    request_headers: Mapping[str, str],
    request_payload: Mapping[str, Any] | None,
    response_headers: Mapping[str, str],
    response_body: str | None,
) -> JSON:
    """GET /app/hook/deliveries/{id}: a delivery item plus what was sent and answered."""
    return {
        **item,
        "url": url,
        "request": {
            "headers": dict(request_headers),
            "payload": None if request_payload is None else dict(request_payload),
        },
        "response": {"headers": dict(response_headers), "payload": response_body},
    }


def error(status: int, message: str, *, errors: Sequence[Mapping[str, Any]] = ()) -> JSON:
    """GitHub's error body; `errors` (each with a `code`) is what a 422 adds."""
    body: JSON = {"message": message, "documentation_url": DOCUMENTATION_URL, "status": str(status)}
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return body


def check_association(value: str) -> str:
    """VALUE if it is one of GitHub's author associations, else ValueError."""
    if value not in AUTHOR_ASSOCIATIONS:
        raise ValueError(f"unknown author_association {value!r}")
    return value
