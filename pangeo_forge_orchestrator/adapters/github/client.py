"""An async GitHub REST client: URL templates, pagination, retries, typed errors, rate limits.

One `GitHubClient` speaks for one identity (the App itself, or one installation); they share
the process's httpx.AsyncClient and RateLimitBook through `GitHubApp`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx
from gidgethub.sansio import format_url
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.github.auth import Clock, utcnow
from pangeo_forge_orchestrator.adapters.github.errors import (
    ERRORS_BY_STATUS,
    GitHubError,
    GitHubUnavailable,
    ValidationFailed,
)
from pangeo_forge_orchestrator.adapters.github.ratelimit import RateLimitBook, rate_limit_of

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

RETRY_ATTEMPTS = 4
RETRY_BASE_DELAY = 0.5  # seconds: 0.5, 1, 2 (times a jitter in [0.5, 1]) between 4 attempts
# A request that may have reached GitHub is only re-sent when repeating it is harmless.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "PATCH"})
# Errors raised before any byte of the request left this machine: safe to retry for any method.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MESSAGE_LIMIT = 500


class _NoBody:
    """Sentinel: None is a legitimate JSON body, so it cannot mean 'no body'."""

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Final = _NoBody()


class Authenticator(Protocol):
    """Where a client's Authorization header comes from."""

    @property
    def identity(self) -> str:
        """A name for rate-limit bookkeeping and logs: 'app' or 'installation:<id>'."""
        ...

    async def authorization(self) -> SecretStr:
        """The full Authorization header value."""
        ...

    def refused(self, authorization: SecretStr) -> bool:
        """GitHub answered 401 to AUTHORIZATION: drop it; True when a new one may succeed."""
        ...


class GitHubClient:
    """GitHub's REST API as one identity; URLs are templates relative to the API root."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        auth: Authenticator,
        rate_limits: RateLimitBook,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utcnow,
        attempts: int = RETRY_ATTEMPTS,
        base_delay: float = RETRY_BASE_DELAY,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._auth = auth
        self.rate_limits = rate_limits
        self._sleep = sleep
        self._clock = clock
        self._attempts = attempts
        self._base_delay = base_delay

    def __repr__(self) -> str:
        return f"GitHubClient({self._auth.identity} at {self.base_url})"

    def url(self, url: str, url_vars: Mapping[str, Any] | None = None) -> str:
        """Expand a URL template (RFC 6570) against the API root; refuse other hosts.

        `{name}` percent-encodes '/', so a value that holds slashes (a file path, a ref) takes
        reserved expansion: "/repos/{owner}/{repo}/contents/{+path}{?ref}".
        """
        expanded = format_url(url, url_vars or {}, base_url=self.base_url)
        self._check_origin(expanded)
        return expanded

    async def getitem(self, url: str, url_vars: Mapping[str, Any] | None = None) -> Any:
        return _json(await self._request("GET", self.url(url, url_vars)))

    async def getiter(
        self,
        url: str,
        url_vars: Mapping[str, Any] | None = None,
        *,
        iterable_key: str | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Yield the items of every page, following `Link: <...>; rel="next"`.

        `iterable_key` names the list inside object-shaped pages (`check_runs`, `repositories`).
        """
        next_url: str | None = self.url(url, url_vars)
        while next_url is not None:
            response = await self._request("GET", next_url)
            page = _json(response)
            items = page if iterable_key is None else page[iterable_key]
            if not isinstance(items, list):
                raise TypeError(f"GET {next_url} returned no list; pass iterable_key=")
            for item in items:
                yield item
            next_url = response.links.get("next", {}).get("url")
            if next_url is not None:
                self._check_origin(next_url)

    async def post(
        self, url: str, url_vars: Mapping[str, Any] | None = None, *, data: Any = NO_BODY
    ) -> Any:
        return _json(await self._request("POST", self.url(url, url_vars), data=data))

    async def patch(
        self, url: str, url_vars: Mapping[str, Any] | None = None, *, data: Any = NO_BODY
    ) -> Any:
        return _json(await self._request("PATCH", self.url(url, url_vars), data=data))

    async def put(
        self, url: str, url_vars: Mapping[str, Any] | None = None, *, data: Any = NO_BODY
    ) -> Any:
        return _json(await self._request("PUT", self.url(url, url_vars), data=data))

    async def delete(
        self, url: str, url_vars: Mapping[str, Any] | None = None, *, data: Any = NO_BODY
    ) -> Any:
        return _json(await self._request("DELETE", self.url(url, url_vars), data=data))

    async def _request(self, method: str, url: str, *, data: Any = NO_BODY) -> httpx.Response:
        """Send with retries; raise RateLimited, GitHubUnavailable or a typed GitHubError."""
        identity = self._auth.identity
        limited = self.rate_limits.in_force(identity, now=self._clock())
        if limited is not None:
            raise limited
        content = {} if isinstance(data, _NoBody) else {"json": data}
        reauthenticated = False
        attempt = 0
        while True:
            attempt += 1
            authorization = await self._auth.authorization()
            try:
                response = await self._http.request(
                    method,
                    url,
                    headers={"Authorization": authorization.get_secret_value()},
                    **content,
                )
            except httpx.TransportError as exc:
                retryable = isinstance(exc, _NOT_SENT) or method in IDEMPOTENT_METHODS
                if retryable and attempt < self._attempts:
                    await self._backoff(attempt, method=method, url=url, cause=type(exc).__name__)
                    continue
                raise GitHubUnavailable(
                    0, f"{type(exc).__name__} after {attempt} attempt(s)", method=method, url=url
                ) from exc
            status = response.status_code
            log.debug(
                "github request",
                extra={"method": method, "url": url, "status": status, "identity": identity},
            )
            self.rate_limits.record(response.headers)
            if status < 400:
                return response
            message, errors = _error_message(response)
            limited = rate_limit_of(status, response.headers, message, now=self._clock())
            if limited is not None:
                self.rate_limits.hold(identity, limited)
                log.warning(
                    "github rate limit",
                    extra={
                        "identity": identity,
                        "kind": limited.kind,
                        "resource": limited.resource,
                        "reset_at": limited.reset_at.isoformat(),
                    },
                )
                raise limited
            if status == 401 and not reauthenticated and self._auth.refused(authorization):
                reauthenticated = True
                attempt -= 1
                continue
            if status >= 500:
                if attempt < self._attempts:
                    await self._backoff(attempt, method=method, url=url, cause=str(status))
                    continue
                raise GitHubUnavailable(
                    status, f"{message} (after {attempt} attempts)", method=method, url=url
                )
            error_cls = ERRORS_BY_STATUS.get(status, GitHubError)
            if error_cls is ValidationFailed:
                raise ValidationFailed(status, message, method=method, url=url, errors=errors)
            raise error_cls(status, message, method=method, url=url)

    async def _backoff(self, attempt: int, *, method: str, url: str, cause: str) -> None:
        delay = self._base_delay * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
        log.warning(
            "github request failed, retrying",
            extra={"method": method, "url": url, "cause": cause, "attempt": attempt},
        )
        await self._sleep(delay)

    def _check_origin(self, url: str) -> None:
        # The Authorization header goes wherever the URL points: never off the API host.
        if _origin(url) != self._origin:
            raise ValueError(f"refusing to send GitHub credentials to {url!r}")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def _error_message(response: httpx.Response) -> tuple[str, tuple[str, ...]]:
    """GitHub's `message` and `errors`, clipped; the reason phrase when the body has none."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return response.reason_phrase or f"HTTP {response.status_code}", ()
    message = str(body.get("message") or response.reason_phrase)[:_MESSAGE_LIMIT]
    errors: list[str] = []
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            text = item.get("message") or " ".join(
                str(item[k]) for k in ("resource", "field", "code") if k in item
            )
            errors.append(str(text)[:_MESSAGE_LIMIT])
        else:
            errors.append(str(item)[:_MESSAGE_LIMIT])
    return message, tuple(errors)
