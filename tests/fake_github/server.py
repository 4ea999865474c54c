"""A stateful fake of GitHub's REST API behind httpx.MockTransport.

Every request is recorded, validated against GitHub's OpenAPI description (tests/github_openapi.py)
and authenticated like GitHub does (App JWT on /app/..., installation tokens elsewhere, and the
installation must own the repository). A violation raises AssertionError inside the request and
is also kept in `violations`, which the `fake_github` fixture asserts empty at teardown, so a
handler that swallows exceptions still fails its test.

Routes live in tests/fake_github/routes/ (`@route(METHOD, TEMPLATE)`); a valid GitHub operation
with no route yet fails loudly with the name of the operation to add.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from tests.fake_github.state import (
    Call,
    FakeRepo,
    Injected,
    IssuedToken,
    blob_sha,
)
from tests.github_openapi import GitHubOpenAPI, github_openapi

API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
QUOTA_LIMIT = 5000
JWT_MAX_LIFETIME = timedelta(minutes=10)
# Operations that take the App's JWT rather than an installation token.
APP_JWT_OPERATIONS = ("/app", "/repos/{owner}/{repo}/installation")


class FakeGitHub:
    """GitHub for tests: seed state, hand `transport` to the client, then assert on state/calls."""

    def __init__(
        self,
        *,
        app_id: int,
        public_key: RSAPublicKey,
        base_url: str = API_URL,
        clock: Callable[[], datetime] | None = None,
        token_lifetime: timedelta = timedelta(hours=1),
        openapi: GitHubOpenAPI | None = None,
        latency: float = 0.0,
    ) -> None:
        self.app_id = app_id
        self.public_key = public_key
        self.base_url = base_url.rstrip("/")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.token_lifetime = token_lifetime
        self.openapi = openapi or github_openapi()
        self.latency = latency
        # Async, so that every request yields to the event loop as real I/O would: without that,
        # concurrent callers never interleave and races (token refresh) cannot show up.
        self.transport = httpx.MockTransport(self.handle_async)
        self.sync_transport = httpx.MockTransport(self.handle)
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.installations: dict[int, dict[str, Any]] = {}
        self.tokens: list[IssuedToken] = []
        self.repos: dict[str, FakeRepo] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.redelivery_requests: list[int] = []
        # What a redelivery does: by default GitHub's next attempt succeeds (200 "OK").
        self.on_redeliver: Callable[[dict[str, Any]], int] = lambda _delivery: 200
        self.quota_used: dict[str, int] = {}
        self._injected: list[Injected] = []
        self._ids = itertools.count(1000)

    # ---- seeding ---------------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def now_iso(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_installation(self, installation_id: int, *, account: str = "pangeo-forge") -> None:
        data = self.example("installation", rename={"github": account})
        data.update(id=installation_id, app_id=self.app_id)
        data["access_tokens_url"] = (
            f"{self.base_url}/app/installations/{installation_id}/access_tokens"
        )
        self.installations[installation_id] = data

    def add_repo(
        self,
        full_name: str,
        *,
        installation_id: int | None,
        default_branch: str = "main",
        head_sha: str | None = None,
    ) -> FakeRepo:
        owner, name = full_name.split("/")
        repo = FakeRepo(owner=owner, name=name, id=self.next_id(), installation_id=installation_id)
        repo.default_branch = default_branch
        repo.branches[default_branch] = (
            head_sha or hashlib.sha1(full_name.encode(), usedforsecurity=False).hexdigest()
        )
        self.repos[full_name] = repo
        return repo

    def add_pull(
        self,
        repo: FakeRepo,
        number: int,
        *,
        head_sha: str,
        head_ref: str = "feature",
        base_ref: str | None = None,
        user: str = "contributor",
        title: str = "Add a recipe",
        files: dict[str, str | bytes] | None = None,
        state: str = "open",
        merged: bool = False,
    ) -> dict[str, Any]:
        """Add PR NUMBER whose head commit holds FILES (also listed as the PR's changed files)."""
        pull: dict[str, Any] = self.example(
            "pull-request", rename={"octocat/Hello-World": repo.full_name}
        )
        base_ref = base_ref or repo.default_branch
        pull.update(
            id=self.next_id(),
            number=number,
            title=title,
            state=state,
            merged=merged,
            locked=False,
            user=self.user(user),
            merged_at=self.now_iso() if merged else None,
            closed_at=self.now_iso() if state == "closed" else None,
        )
        for key in ("url", "html_url", "diff_url", "patch_url", "issue_url", "comments_url"):
            pull[key] = pull[key].replace("1347", str(number))
        pull["head"].update(ref=head_ref, sha=head_sha, label=f"{user}:{head_ref}")
        pull["base"].update(ref=base_ref, sha=repo.branches.get(base_ref, ""))
        for side in ("head", "base"):
            pull[side]["repo"] = self.repo_json(repo)
        repo.pulls[number] = pull
        entries = []
        for path, content in (files or {}).items():
            repo.put_file(path, content, ref=head_sha)
            data = content.encode() if isinstance(content, str) else content
            entry = self.example(
                "diff-entry-items", rename={"octocat/Hello-World": repo.full_name}
            )[0]
            entry.update(sha=blob_sha(data), filename=path, status="added", patch="")
            entry["contents_url"] = f"{self.repo_url(repo)}/contents/{path}?ref={head_sha}"
            entries.append(entry)
        repo.pull_files[number] = entries
        return pull

    def add_delivery(
        self,
        guid: str,
        *,
        status_code: int = 502,
        status: str | None = None,
        delivered_at: datetime | None = None,
        event: str = "pull_request",
        action: str | None = "opened",
        redelivery: bool = False,
        installation_id: int | None = None,
    ) -> dict[str, Any]:
        """Record a delivery attempt of our App's webhook (failed, unless STATUS_CODE < 400)."""
        when = (delivered_at or self.clock()).astimezone(UTC)
        item: dict[str, Any] = self.example("hook-delivery")
        item.update(
            id=self.next_id(),
            guid=guid,
            delivered_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            redelivery=redelivery,
            status=status
            or ("OK" if status_code < 400 else f"Invalid HTTP Response: {status_code}"),
            status_code=status_code,
            event=event,
            action=action,
            installation_id=installation_id,
            throttled_at=None,
        )
        self.deliveries.append(item)
        return item

    def repo(self, full_name: str) -> FakeRepo:
        """The repository FULL_NAME, seeded or created through the API (KeyError if neither)."""
        return self.repos[full_name]

    # ---- failure injection -----------------------------------------------------------------

    def inject(
        self,
        respond: Callable[[], httpx.Response],
        *,
        template: str | None = None,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next TIMES matching requests with RESPOND() (after validating them)."""
        if template is not None:
            methods = {m for m, t in self.openapi.templates if t == template}
            assert methods, f"no GitHub operation has the path template {template!r}"
            assert method is None or method.upper() in methods, f"no {method} {template}"
        self._injected.append(Injected(method and method.upper(), template, times, respond))

    def fail_next(
        self,
        *,
        template: str | None = None,
        method: str | None = None,
        times: int = 1,
        status: int = 502,
    ) -> None:
        self.inject(
            lambda: self.error(status, "Server Error"),
            template=template,
            method=method,
            times=times,
        )

    def secondary_rate_limit(
        self,
        *,
        retry_after: int | None = 60,
        template: str | None = None,
        method: str | None = None,
        times: int = 1,
        status: int = 403,
    ) -> None:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        message = "You have exceeded a secondary rate limit. Please wait a few minutes."
        self.inject(
            lambda: self.error(status, message, headers=headers),
            template=template,
            method=method,
            times=times,
        )

    def primary_rate_limit(
        self,
        *,
        reset_at: datetime,
        template: str | None = None,
        method: str | None = None,
        times: int = 1,
        status: int = 403,
    ) -> None:
        headers = {
            "x-ratelimit-limit": str(QUOTA_LIMIT),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": str(QUOTA_LIMIT),
            "x-ratelimit-reset": str(int(reset_at.timestamp())),
            "x-ratelimit-resource": "core",
        }
        self.inject(
            lambda: self.error(status, "API rate limit exceeded", headers=headers),
            template=template,
            method=method,
            times=times,
        )

    def connection_error(
        self, *, template: str | None = None, method: str | None = None, times: int = 1
    ) -> None:
        def refuse() -> httpx.Response:
            raise httpx.ConnectError("connection refused (injected)")

        self.inject(refuse, template=template, method=method, times=times)

    # ---- inspection ------------------------------------------------------------------------

    def calls_to(self, method: str, template: str) -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and c.template == template]

    def token_requests(self, installation_id: int | None = None) -> list[Call]:
        calls = self.calls_to("POST", "/app/installations/{installation_id}/access_tokens")
        if installation_id is None:
            return calls
        return [c for c in calls if c.path_params["installation_id"] == str(installation_id)]

    # ---- responses -------------------------------------------------------------------------

    def example(self, name: str, *, rename: dict[str, str] | None = None) -> Any:
        """A deep copy of GitHub's response example NAME, with names and the API root swapped."""
        value = self.openapi.document["components"]["examples"][name]["value"]
        text = json.dumps(value)
        for old, new in (rename or {}).items():
            text = text.replace(old, new)
        if self.base_url != API_URL:
            text = text.replace(API_URL, self.base_url)
        return copy.deepcopy(json.loads(text))

    def user(self, login: str) -> dict[str, Any]:
        data = self.example("issue-comment")["user"]
        text = json.dumps(data).replace("octocat", login)
        user: dict[str, Any] = json.loads(text)
        user["id"] = int(hashlib.sha1(login.encode(), usedforsecurity=False).hexdigest()[:7], 16)
        user["type"] = "Bot" if login.endswith("[bot]") else "User"
        return user

    def repo_url(self, repo: FakeRepo) -> str:
        return f"{self.base_url}/repos/{repo.full_name}"

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        data: dict[str, Any] = self.example(
            "full-repository", rename={"octocat/Hello-World": repo.full_name}
        )
        for key in ("parent", "source", "template_repository", "organization"):
            data.pop(key, None)
        data.update(
            id=repo.id,
            name=repo.name,
            full_name=repo.full_name,
            private=repo.private,
            default_branch=repo.default_branch,
        )
        data.update(repo.metadata)
        data["owner"] = self.user(repo.owner)
        return data

    def json(
        self, status: int, data: Any, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(status, json=data, headers=headers)

    def error(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
        }
        if errors:
            body["errors"] = errors
        return httpx.Response(status, json=body, headers=headers)

    def paged(self, call: Call, items: list[Any], *, key: str | None = None) -> httpx.Response:
        """One page of ITEMS (`per_page`, `page`) with GitHub's Link header."""
        per_page = min(int(call.query.get("per_page", 30)), 100)
        page = int(call.query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        if page < last:
            links.append(f'<{self._page_url(call, page=page + 1)}>; rel="next"')
            links.append(f'<{self._page_url(call, page=last)}>; rel="last"')
        if page > 1:
            links.append(f'<{self._page_url(call, page=1)}>; rel="first"')
            links.append(f'<{self._page_url(call, page=page - 1)}>; rel="prev"')
        headers = {"link": ", ".join(links)} if links else {}
        data = chunk if key is None else {"total_count": len(items), key: chunk}
        return self.json(200, data, headers=headers)

    def _page_url(self, call: Call, **changes: Any) -> str:
        query = {**call.query, **{k: str(v) for k, v in changes.items()}}
        return f"{self.base_url}{call.path}?{urlencode(query)}"

    # ---- the transport ---------------------------------------------------------------------

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.latency)
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            matched = self.openapi.validate(request, base_url=self.base_url)
            self._check_conventions(request)
        except AssertionError as exc:
            self.violations.append(str(exc))
            raise
        operation = matched.operation
        call = Call(
            method=request.method,
            path=request.url.path[len(httpx.URL(self.base_url).path.rstrip("/")) :],
            template=operation.template,
            path_params=matched.path_params,
            query=matched.query,
            body=matched.body,
            headers=request.headers,
        )
        self.calls.append(call)
        response = self._respond(call)
        call.status = response.status_code
        return response

    def _respond(self, call: Call) -> httpx.Response:
        injected = self._take_injected(call)
        if injected is not None:
            return injected.respond()
        try:
            call.identity = self._authenticate(call)
        except _Refused as refused:
            return refused.response
        from tests.fake_github.routes import ROUTES

        handler = ROUTES.get((call.method, call.template))
        if handler is None:
            message = (
                f"the fake GitHub has no route for {call.method} {call.template} yet: "
                "add one in tests/fake_github/routes/"
            )
            self.violations.append(message)
            raise AssertionError(message)
        response = handler(self, call)
        used = self.quota_used[call.identity] = self.quota_used.get(call.identity, 0) + 1
        response.headers.update(
            {
                "x-ratelimit-limit": str(QUOTA_LIMIT),
                "x-ratelimit-remaining": str(max(0, QUOTA_LIMIT - used)),
                "x-ratelimit-used": str(used),
                "x-ratelimit-reset": str(int((self.clock() + timedelta(hours=1)).timestamp())),
                "x-ratelimit-resource": "core",
            }
        )
        return response

    def _take_injected(self, call: Call) -> Injected | None:
        for injected in self._injected:
            if injected.method not in (None, call.method):
                continue
            if injected.template not in (None, call.template):
                continue
            injected.times -= 1
            if injected.times <= 0:
                self._injected.remove(injected)
            return injected
        return None

    def _check_conventions(self, request: httpx.Request) -> None:
        headers = request.headers
        if headers.get("accept") != MEDIA_TYPE:
            raise AssertionError(f"{request.method} {request.url}: Accept is not {MEDIA_TYPE}")
        if headers.get("x-github-api-version") != API_VERSION:
            raise AssertionError(f"{request.method} {request.url}: no X-GitHub-Api-Version")
        if not headers.get("user-agent"):
            raise AssertionError(f"{request.method} {request.url}: GitHub requires a User-Agent")

    def _authenticate(self, call: Call) -> str:
        scheme, _, credential = call.headers.get("authorization", "").partition(" ")
        wants_jwt = call.template.startswith("/app") or call.template in APP_JWT_OPERATIONS
        if wants_jwt:
            if scheme != "Bearer":
                raise _Refused(self.error(401, "A JSON web token could not be decoded"))
            self._check_jwt(credential)
            return "app"
        if scheme not in ("token", "Bearer"):
            raise _Refused(self.error(401, "Requires authentication"))
        issued = next((t for t in self.tokens if t.token == credential), None)
        if issued is None or issued.expires_at <= self.clock():
            raise _Refused(self.error(401, "Bad credentials"))
        repo = self.repo_of(call)
        if repo is not None and repo.installation_id != issued.installation_id:
            raise _Refused(self.error(404, "Not Found"))
        return f"installation:{issued.installation_id}"

    def _check_jwt(self, credential: str) -> None:
        try:
            claims = jwt.decode(
                credential,
                self.public_key,
                algorithms=["RS256"],
                issuer=str(self.app_id),
                options={"verify_exp": False, "verify_iat": False, "require": ["iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise _Refused(
                self.error(401, f"A JSON web token could not be decoded ({exc})")
            ) from None
        now = self.clock().timestamp()
        if not claims["iat"] <= now < claims["exp"]:
            raise _Refused(
                self.error(401, "'Expiration time' claim ('exp') is too far in the past")
            )
        if claims["exp"] - now > JWT_MAX_LIFETIME.total_seconds():
            raise _Refused(
                self.error(401, "'Expiration time' claim ('exp') is too far in the future")
            )

    def repo_of(self, call: Call) -> FakeRepo | None:
        owner, name = call.path_params.get("owner"), call.path_params.get("repo")
        if owner is None or name is None:
            return None
        return self.repos.get(f"{owner}/{name}")

    def issue_token(self, installation_id: int) -> IssuedToken:
        token = IssuedToken(
            installation_id=installation_id,
            token=f"ghs_{hashlib.sha256(str(self.next_id()).encode()).hexdigest()[:36]}",
            expires_at=self.clock() + self.token_lifetime,
        )
        self.tokens.append(token)
        return token

    def assert_no_violations(self) -> None:
        assert not self.violations, "requests GitHub would refuse:\n" + "\n".join(self.violations)


class _Refused(Exception):  # noqa: N818 -- carries the response GitHub would give
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response
