"""Fake routes of the App itself: installations, tokens, webhook deliveries."""

from __future__ import annotations

import httpx

from tests.fake_github.routes import get, int_param, post, repo_or_404
from tests.fake_github.server import FakeGitHub
from tests.fake_github.state import Call, newest_first


@get("/app")
def get_app(gh: FakeGitHub, call: Call) -> httpx.Response:
    data = gh.example("integration")
    data["id"] = gh.app_id
    return gh.json(200, data)


@get("/app/installations")
def list_installations(gh: FakeGitHub, call: Call) -> httpx.Response:
    return gh.paged(call, list(gh.installations.values()))


@post("/app/installations/{installation_id}/access_tokens")
def create_access_token(gh: FakeGitHub, call: Call) -> httpx.Response:
    installation_id = int_param(call, "installation_id")
    if installation_id not in gh.installations:
        return gh.error(404, "Not Found")
    issued = gh.issue_token(installation_id)
    data = gh.example("installation-token")
    data.update(
        token=issued.token,
        expires_at=issued.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        repository_selection="all",
    )
    data.pop("repositories", None)
    return gh.json(201, data)


@get("/repos/{owner}/{repo}/installation")
def get_repo_installation(gh: FakeGitHub, call: Call) -> httpx.Response:
    repo = repo_or_404(gh, call)
    if repo.installation_id is None:
        return gh.error(404, "Not Found")
    return gh.json(200, gh.installations[repo.installation_id])


@get("/installation/repositories")
def list_installation_repos(gh: FakeGitHub, call: Call) -> httpx.Response:
    installation_id = int(call.identity.removeprefix("installation:"))
    repos = [gh.repo_json(r) for r in gh.repos.values() if r.installation_id == installation_id]
    return gh.paged(call, repos, key="repositories")


# ---- webhook deliveries --------------------------------------------------------------------

# The list shows deliveries without their request and response.
_SUMMARY_KEYS = (
    "id",
    "guid",
    "delivered_at",
    "redelivery",
    "duration",
    "status",
    "status_code",
    "event",
    "action",
    "installation_id",
    "repository_id",
    "throttled_at",
)


@get("/app/hook/deliveries")
def list_deliveries(gh: FakeGitHub, call: Call) -> httpx.Response:
    """Newest first, paged by an opaque cursor as GitHub does (no `page` parameter)."""
    items = newest_first(gh.deliveries, "delivered_at")
    if "status" in call.query:
        wanted = call.query["status"]
        items = [d for d in items if (d["status_code"] < 400) == (wanted == "success")]
    per_page = min(int(call.query.get("per_page", 30)), 100)
    start = int(call.query.get("cursor", "v1_0").removeprefix("v1_"))
    chunk = items[start : start + per_page]
    headers = {}
    if start + per_page < len(items):
        query = {**call.query, "cursor": f"v1_{start + per_page}"}
        url = httpx.URL(f"{gh.base_url}{call.path}", params=query)
        headers["link"] = f'<{url}>; rel="next"'
    return gh.json(200, [{k: d[k] for k in _SUMMARY_KEYS} for d in chunk], headers=headers)


@get("/app/hook/deliveries/{delivery_id}")
def get_delivery(gh: FakeGitHub, call: Call) -> httpx.Response:
    wanted = int_param(call, "delivery_id")
    found = [d for d in gh.deliveries if d["id"] == wanted]
    return gh.json(200, found[0]) if found else gh.error(404, "Not Found")


@post("/app/hook/deliveries/{delivery_id}/attempts")
def redeliver(gh: FakeGitHub, call: Call) -> httpx.Response:
    wanted = int_param(call, "delivery_id")
    original = next((d for d in gh.deliveries if d["id"] == wanted), None)
    if original is None:
        return gh.error(404, "Not Found")
    gh.redelivery_requests.append(wanted)
    status_code = gh.on_redeliver(original)
    gh.add_delivery(
        original["guid"],
        status_code=status_code,
        event=original["event"],
        action=original["action"],
        redelivery=True,
        installation_id=original["installation_id"],
    )
    return gh.json(202, {})
