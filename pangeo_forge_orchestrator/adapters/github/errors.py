"""Typed errors of the GitHub client. None of them ever carries a token or a key."""

# Named for what GitHub answered (NotFound, RateLimited), as the HTTP vocabulary reads.
# ruff: noqa: N818

from __future__ import annotations

from datetime import datetime
from typing import Literal

RateLimitKind = Literal["primary", "secondary"]


class GitHubError(Exception):
    """GitHub answered with an error status; `message` is GitHub's own text."""

    def __init__(self, status: int, message: str, *, method: str = "", url: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method else ""
        super().__init__(f"GitHub {status}: {message}{where}")


class BadRequest(GitHubError):
    """400: the request was malformed."""


class Unauthorized(GitHubError):
    """401: the JWT or the installation token was refused."""


class Forbidden(GitHubError):
    """403 that is not a rate limit: the App lacks a permission or the resource is blocked."""


class NotFound(GitHubError):
    """404: no such resource, or the installation cannot see it."""


class Conflict(GitHubError):
    """409: the resource is in a state that refuses the change (e.g. a merge conflict)."""


class ValidationFailed(GitHubError):
    """422: GitHub understood the request but rejected its content."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        method: str = "",
        url: str = "",
        errors: tuple[str, ...] = (),
    ) -> None:
        super().__init__(status, message, method=method, url=url)
        self.errors = errors


class GitHubUnavailable(GitHubError):
    """GitHub kept failing (5xx or connection errors) after every retry; try again later.

    `status` is 0 when no response was received at all.
    """


class RateLimited(Exception):
    """GitHub refuses requests until `reset_at` (UTC): reschedule the work, do not sleep.

    The jobs layer maps this to `RetryLater(at=reset_at, ...)`; adapters never import jobs/.
    `kind` is "primary" (the hourly quota is spent) or "secondary" (abuse protection).
    """

    def __init__(self, reset_at: datetime, *, kind: RateLimitKind, resource: str = "core") -> None:
        self.reset_at = reset_at
        self.kind = kind
        self.resource = resource
        super().__init__(
            f"GitHub {kind} rate limit ({resource}) until {reset_at.isoformat(timespec='seconds')}"
        )


class GitHubNotConfigured(Exception):
    """The App id or private key is missing or unusable."""


ERRORS_BY_STATUS: dict[int, type[GitHubError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
}
