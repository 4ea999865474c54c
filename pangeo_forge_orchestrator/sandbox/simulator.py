"""The GitHub simulator: GitHub's REST API (the part the service calls) over real git repositories.

State lives under ROOT: `state.json` (installations, pulls, comments, checks, deployments,
webhook deliveries) and `git/<owner>/<name>.git` (bare repositories, so head shas are real
commits a bake can clone). It authenticates like GitHub (the App's JWT on /app routes,
installation tokens elsewhere, and sandbox users with `token sbu_<login>`), answers like GitHub
(status codes, `{"message", "documentation_url"}` errors, Link paging, rate-limit headers) and,
like GitHub, sends signed webhooks when a pull request is opened, pushed to, merged or closed,
or commented on (hooks.py). Routes: routes/, one module per area.

Serving it: `Simulator(...)` is an ASGI app; the sandbox mounts it at /sandbox/github.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import anyio.to_thread
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pangeo_forge_orchestrator.sandbox import objects
from pangeo_forge_orchestrator.sandbox.diffs import changes
from pangeo_forge_orchestrator.sandbox.gitrepos import GitRepos
from pangeo_forge_orchestrator.sandbox.routing import (
    Call,
    Identity,
    NotFoundError,
    Request,
    Response,
    Unprocessable,
    match,
)
from pangeo_forge_orchestrator.sandbox.state import (
    Delivery,
    Pull,
    Repo,
    SimState,
    load_state,
    save_state,
)
from pangeo_forge_orchestrator.sandbox.state import utcnow as default_clock

log = logging.getLogger(__name__)

USER_TOKEN_PREFIX = "sbu_"  # noqa: S105 -- a prefix, not a secret
QUOTA = 5000
JWT_MAX_LIFETIME = timedelta(minutes=10)
TOKEN_LIFETIME = timedelta(hours=1)
# Operations that take the App's JWT rather than an installation token.
APP_JWT_OPERATIONS = ("/repos/{owner}/{repo}/installation",)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Validator = Callable[[Request], None]


class Refused(Exception):  # noqa: N818 -- carries the answer GitHub would give
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def error(status: int, message: str, /, **error_fields: str) -> Response:
    errors = [error_fields] if error_fields else []
    return Response(status, objects.error(status, message, errors=errors))


def user_token(login: str) -> str:
    """The token a sandbox user sends (`Authorization: token sbu_<login>`)."""
    return f"{USER_TOKEN_PREFIX}{login}"


class Simulator:
    """GitHub for one machine: call `handle(Request)` or serve it as an ASGI app."""

    def __init__(
        self,
        *,
        root: Path,
        urls: objects.Urls,
        app_id: int,
        app_slug: str,
        public_key: RSAPublicKey,
        clock: Callable[[], datetime] = default_clock,
        validate: Validator | None = None,
    ) -> None:
        self.root = root
        self.urls = urls
        self.app_id = app_id
        self.app_slug = app_slug
        self.public_key = public_key
        self.clock = clock
        self.validate = validate
        # Importing the routes registers them (they import this module, hence here).
        from pangeo_forge_orchestrator.sandbox import routes  # noqa: F401

        self.git = GitRepos(root / "git")
        self.state_path = root / "state.json"
        self.state: SimState = load_state(self.state_path)
        # One lock for everything: a sandbox serves a handful of requests a second, and one
        # lock makes every operation (state + git) atomic with respect to the others.
        self.lock = threading.RLock()
        self.violations: list[str] = []
        self.listeners: list[Callable[[str, str | None, dict[str, Any], Repo], None]] = []
        # Set by the webhook sender: sends a recorded delivery again (POST .../attempts).
        self.redeliver: Callable[[Delivery], None] | None = None
        self.app_created_at = self.clock()

    # ---- names and objects the routes share -----------------------------------------------

    @property
    def bot_login(self) -> str:
        return f"{self.app_slug}[bot]"

    def now(self) -> datetime:
        return self.clock()

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        return objects.repository(
            self.urls,
            repo_id=repo.id,
            owner=repo.owner,
            name=repo.name,
            private=repo.private,
            default_branch=repo.default_branch,
            clone_url=self.git.clone_url(repo.owner, repo.name),
            created_at=repo.created_at,
            updated_at=repo.updated_at,
            pushed_at=repo.pushed_at,
            settings=repo.settings,
        )

    def pull_json(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        entries = changes(self.git, repo, pull)
        return objects.pull_request(
            self.urls,
            repo=self.repo_json(repo),
            pull_id=pull.id,
            number=pull.number,
            state=pull.state,
            title=pull.title,
            body=pull.body,
            user_login=pull.user,
            head_ref=pull.head_ref,
            head_sha=pull.head_sha,
            base_ref=pull.base_ref,
            base_sha=pull.base_sha,
            created_at=pull.created_at,
            updated_at=pull.updated_at,
            closed_at=pull.closed_at,
            merged_at=pull.merged_at,
            merge_commit_sha=pull.merge_commit_sha,
            merged_by=pull.merged_by,
            draft=pull.draft,
            changed_files=len(entries),
            additions=sum(e.additions for e in entries),
            deletions=sum(e.deletions for e in entries),
            commits=1,
        )

    def repo_of(self, call: Call) -> Repo:
        repo = self.state.repo(call.params.get("owner", ""), call.params.get("repo", ""))
        if repo is None:
            raise NotFoundError
        return repo

    def emit(self, event: str, action: str | None, payload: dict[str, Any], repo: Repo) -> None:
        """Tell the listeners (the webhook sender) that GitHub would send EVENT now."""
        for listener in self.listeners:
            listener(event, action, payload, repo)

    def save(self) -> None:
        with self.lock:
            save_state(self.state, self.state_path)

    # ---- requests -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self.lock:
            response = self._dispatch(request)
            if request.method != "GET" and response.status < 400:
                save_state(self.state, self.state_path)
        used = len(self.state.tokens)  # a plausible, moving number; nothing is throttled
        response.headers.update(
            {
                "x-ratelimit-limit": str(QUOTA),
                "x-ratelimit-remaining": str(QUOTA - used % QUOTA),
                "x-ratelimit-used": str(used % QUOTA),
                "x-ratelimit-reset": str(int((self.now() + timedelta(hours=1)).timestamp())),
                "x-ratelimit-resource": "core",
            }
        )
        return response

    def _dispatch(self, request: Request) -> Response:
        if self.validate is not None:
            try:
                self.validate(request)
            except AssertionError as exc:
                self.violations.append(str(exc))
                return error(422, f"Invalid request: {exc}")
        found = match(request.method, request.path)
        if isinstance(found, str):
            return error(404, "Not Found")
        route, params = found
        call = Call(request, route.template, params, Identity("anonymous", ""))
        try:
            call.identity = self._authenticate(call)
            return route.handler(self, call)
        except Refused as refused:
            return refused.response
        except NotFoundError:
            return error(404, "Not Found")
        except Unprocessable as exc:
            return error(422, exc.message, **exc.error)
        except ValueError as exc:  # bad names or paths refused by gitrepos
            return error(422, "Validation Failed", message=str(exc), code="invalid")

    def _authenticate(self, call: Call) -> Identity:
        scheme, _, credential = call.request.headers.get("authorization", "").partition(" ")
        if call.template.startswith("/app") or call.template in APP_JWT_OPERATIONS:
            if scheme != "Bearer":
                raise Refused(error(401, "A JSON web token could not be decoded"))
            self._check_jwt(credential)
            return Identity("app", self.bot_login)
        if scheme not in ("token", "Bearer"):
            raise Refused(error(401, "Requires authentication"))
        if credential.startswith(USER_TOKEN_PREFIX):
            login = credential.removeprefix(USER_TOKEN_PREFIX)
            if not login:
                raise Refused(error(401, "Bad credentials"))
            return Identity("user", login)
        issued = self.state.tokens.get(credential)
        if issued is None or issued.expires_at <= self.now():
            raise Refused(error(401, "Bad credentials"))
        repo = self.state.repo(call.params.get("owner", ""), call.params.get("repo", ""))
        if repo is not None and repo.installation_id != issued.installation_id:
            raise Refused(error(404, "Not Found"))
        return Identity("installation", self.bot_login, issued.installation_id)

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
            raise Refused(error(401, f"A JSON web token could not be decoded ({exc})")) from None
        now = self.now().timestamp()
        if not claims["iat"] <= now + 60 < claims["exp"] + 60:
            raise Refused(error(401, "'Expiration time' claim ('exp') is too far in the past"))
        if claims["exp"] - now > JWT_MAX_LIFETIME.total_seconds() + 60:
            raise Refused(error(401, "'Expiration time' claim ('exp') is too far in the future"))

    # ---- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        raw = b"".join(chunks)
        path, root_path = scope["path"], scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        query: dict[str, str] = {}
        for pair in scope.get("query_string", b"").decode("latin-1").split("&"):
            if pair:
                key, _, value = pair.partition("=")
                query[unquote_plus(key)] = unquote_plus(value)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            await _send_json(send, error(400, "Problems parsing JSON"))
            return
        request = Request(scope["method"], path or "/", query, headers, body, raw)
        response = await anyio.to_thread.run_sync(self.handle, request)
        await _send_json(send, response)


async def _send_json(send: Send, response: Response) -> None:
    body = b"" if response.body is None else json.dumps(response.body).encode()
    headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
    if response.body is not None:
        headers.append((b"content-type", b"application/json; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
