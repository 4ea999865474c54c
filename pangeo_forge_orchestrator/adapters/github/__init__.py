"""GitHub adapter: App authentication and the REST client.

Usage: `app = GitHubApp(settings)`, then `app.installation_client(installation_id)` for
repository work or `app.app_client()` for /app/... endpoints. `RateLimited` means "try again at
`reset_at`": the jobs layer turns it into a rescheduled job (RetryLater), never a sleep.
"""

from pangeo_forge_orchestrator.adapters.github.app import GitHubApp
from pangeo_forge_orchestrator.adapters.github.client import NO_BODY, GitHubClient
from pangeo_forge_orchestrator.adapters.github.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GitHubError,
    GitHubNotConfigured,
    GitHubUnavailable,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from pangeo_forge_orchestrator.adapters.github.ratelimit import Quota, RateLimitBook

__all__ = [
    "NO_BODY",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GitHubApp",
    "GitHubClient",
    "GitHubError",
    "GitHubNotConfigured",
    "GitHubUnavailable",
    "NotFound",
    "Quota",
    "RateLimitBook",
    "RateLimited",
    "Unauthorized",
    "ValidationFailed",
]
