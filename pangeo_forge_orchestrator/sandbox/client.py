"""A person's side of the sandbox: open pull requests, comment, merge — through GitHub's API.

Every action is a real GitHub REST call to the simulator, authenticated as a sandbox user
(`token sbu_<login>`), so what `pfo sandbox` and `pfo demo` do is what a person does on GitHub;
the simulator then sends the service the webhooks GitHub would. Also reads the service's own
REST API, to follow what the service did.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from pangeo_forge_orchestrator.sandbox.mode import API_PREFIX, ORG, STAGED_RECIPES
from pangeo_forge_orchestrator.sandbox.simulator import user_token

T = TypeVar("T")
MEDIA_TYPE = "application/vnd.github+json"


class SandboxError(Exception):
    """An action the simulator or the service refused, with GitHub's or the service's reason."""


@dataclass(frozen=True)
class PullRef:
    repo: str  # owner/name
    number: int
    head_sha: str
    html_url: str


class SandboxClient:
    """Act as LOGIN on the sandbox of the service at BASE_URL."""

    def __init__(
        self, base_url: str, *, login: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.login = login
        self._http = httpx.Client(transport=transport, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    def as_user(self, login: str) -> SandboxClient:
        other = SandboxClient.__new__(SandboxClient)
        other.base_url, other.login, other._http = self.base_url, login, self._http
        return other

    # ---- GitHub, as a person ------------------------------------------------------------

    def github(self, method: str, path: str, *, json: Any = None, ok: tuple[int, ...] = ()) -> Any:
        response = self._http.request(
            method,
            f"{self.base_url}{API_PREFIX}{path}",
            json=json,
            headers={
                "Authorization": f"token {user_token(self.login)}",
                "Accept": MEDIA_TYPE,
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        if response.status_code >= 400 and response.status_code not in ok:
            raise SandboxError(f"{method} {path}: {response.status_code} {_reason(response)}")
        return response.json() if response.content else None

    def branches(self, repo: str) -> dict[str, str]:
        data = self.github("GET", f"/repos/{repo}")
        head = self.github("GET", f"/repos/{repo}/branches/{data['default_branch']}")
        return {data["default_branch"]: head["commit"]["sha"]}

    def push_files(
        self, repo: str, *, branch: str, files: Mapping[str, bytes], message: str
    ) -> None:
        """Create BRANCH from the default branch and commit FILES to it, one file per commit."""
        ((_, sha),) = self.branches(repo).items()
        self.github(
            "POST", f"/repos/{repo}/git/refs", json={"ref": f"refs/heads/{branch}", "sha": sha}
        )
        for path, data in files.items():
            self.github(
                "PUT",
                f"/repos/{repo}/contents/{path}",
                json={
                    "message": f"{message}: {path}",
                    "content": base64.b64encode(data).decode(),
                    "branch": branch,
                },
            )

    def put_file(self, repo: str, *, path: str, data: bytes, message: str) -> None:
        """Commit one file to the default branch (create, or update over its current blob)."""
        current = self.github("GET", f"/repos/{repo}/contents/{path}", ok=(404,))
        body = {"message": message, "content": base64.b64encode(data).decode()}
        if isinstance(current, dict) and "sha" in current:
            body["sha"] = current["sha"]
        self.github("PUT", f"/repos/{repo}/contents/{path}", json=body)

    def open_pull(self, repo: str, *, branch: str, title: str, body: str = "") -> PullRef:
        default = self.github("GET", f"/repos/{repo}")["default_branch"]
        pull = self.github(
            "POST",
            f"/repos/{repo}/pulls",
            json={"title": title, "head": branch, "base": default, "body": body},
        )
        return PullRef(repo, pull["number"], pull["head"]["sha"], pull["html_url"])

    def pull(self, repo: str, number: int) -> Any:
        return self.github("GET", f"/repos/{repo}/pulls/{number}")

    def comment(self, repo: str, number: int, body: str) -> Any:
        return self.github("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body})

    def comments(self, repo: str, number: int) -> list[Any]:
        return list(self.github("GET", f"/repos/{repo}/issues/{number}/comments?per_page=100"))

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        items = self.github("GET", f"/repos/{repo}/issues/comments/{comment_id}/reactions")
        return [item["content"] for item in items]

    def merge(self, repo: str, number: int) -> str:
        merged = self.github("PUT", f"/repos/{repo}/pulls/{number}/merge", json={})
        return str(merged["sha"])

    def check_runs(self, repo: str, ref: str) -> list[Any]:
        return list(self.github("GET", f"/repos/{repo}/commits/{ref}/check-runs")["check_runs"])

    def deployments(self, repo: str) -> list[Any]:
        return list(self.github("GET", f"/repos/{repo}/deployments"))

    def deployment_statuses(self, repo: str, deployment_id: int) -> list[Any]:
        return list(self.github("GET", f"/repos/{repo}/deployments/{deployment_id}/statuses"))

    def repo_exists(self, repo: str) -> bool:
        return self.github("GET", f"/repos/{repo}", ok=(404,)).get("id") is not None

    def file_exists(self, repo: str, path: str) -> bool:
        found = self.github("GET", f"/repos/{repo}/contents/{path}", ok=(404,))
        return isinstance(found, list) or (isinstance(found, dict) and "sha" in found)

    def pulls(self, repo: str, *, state: str = "all") -> list[Any]:
        return list(self.github("GET", f"/repos/{repo}/pulls?state={state}&per_page=100"))

    # ---- the service's REST API ---------------------------------------------------------

    def service(self, path: str) -> Any:
        response = self._http.get(f"{self.base_url}{path}")
        if response.status_code >= 400:
            raise SandboxError(f"GET {path}: {response.status_code} {_reason(response)}")
        return response.json()


def staged_recipes() -> str:
    return f"{ORG}/{STAGED_RECIPES}"


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.25,
    tick: Callable[[float], None] | None = None,
) -> T:
    """Poll PROBE until it returns something; SandboxError naming WHAT after TIMEOUT seconds."""
    started = time.monotonic()
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise SandboxError(f"gave up after {timeout:.0f} s waiting for {what}")
        if tick is not None:
            tick(elapsed)
        time.sleep(interval)


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        reason = str(data.get("message") or data.get("detail") or data)
        # A 422's specifics are in `errors` ("name already exists on this account").
        details = [
            e["message"]
            for e in data.get("errors") or []
            if isinstance(e, dict) and e.get("message")
        ]
        return (reason + (f" ({'; '.join(details)})" if details else ""))[:300]
    return str(data)[:300]
