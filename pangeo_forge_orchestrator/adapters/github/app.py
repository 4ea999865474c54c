"""`GitHubApp`: the process's GitHub App identity, handing out clients per installation."""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType

import httpx
from pydantic import SecretStr

from pangeo_forge_orchestrator import __version__
from pangeo_forge_orchestrator.adapters.github.auth import (
    AppJwt,
    Clock,
    InstallationToken,
    InstallationTokens,
    load_private_key,
    utcnow,
)
from pangeo_forge_orchestrator.adapters.github.client import GitHubClient, Sleep
from pangeo_forge_orchestrator.adapters.github.errors import GitHubNotConfigured
from pangeo_forge_orchestrator.adapters.github.ratelimit import RateLimitBook
from pangeo_forge_orchestrator.settings import Settings

API_VERSION = "2022-11-28"
USER_AGENT = "{app_name} (pangeo-forge-orchestrator/{version})"
MEDIA_TYPE = "application/vnd.github+json"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
NOT_CONFIGURED = (
    "the GitHub App is not configured: set PFO_GITHUB_APP_ID and PFO_GITHUB_APP_PRIVATE_KEY "
    "(or PFO_GITHUB_APP_PRIVATE_KEY_PATH)"
)


class _AppAuth:
    """Authenticate as the App itself (JWT), for /app/... endpoints."""

    identity = "app"

    def __init__(self, jwt: AppJwt) -> None:
        self._jwt = jwt

    async def authorization(self) -> SecretStr:
        return SecretStr(f"Bearer {self._jwt.token().get_secret_value()}")

    def refused(self, authorization: SecretStr) -> bool:
        # A refused JWT means a wrong App id or key; a new signature will not help.
        self._jwt.forget()
        return False


class _InstallationAuth:
    """Authenticate as one installation, with its cached access token."""

    def __init__(self, tokens: InstallationTokens, installation_id: int) -> None:
        self._tokens = tokens
        self._installation_id = installation_id
        self.identity = f"installation:{installation_id}"

    async def authorization(self) -> SecretStr:
        token = await self._tokens.get(self._installation_id)
        return SecretStr(f"token {token.get_secret_value()}")

    def refused(self, authorization: SecretStr) -> bool:
        # GitHub revokes tokens early (suspension, permission change): one fresh token may work.
        token = authorization.get_secret_value().removeprefix("token ")
        self._tokens.forget(self._installation_id, SecretStr(token))
        return True


class GitHubApp:
    """The GitHub App: its own client (JWT) and one client per installation (access token).

    Raises GitHubNotConfigured when the App id or key is missing. `transport`, `sleep` and
    `clock` are seams for tests (an httpx.MockTransport, a recorded sleep, a fixed clock).
    """

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utcnow,
    ) -> None:
        pem = settings.github_private_key_pem
        if settings.github_app_id is None or pem is None:
            raise GitHubNotConfigured(NOT_CONFIGURED)
        self.app_id = settings.github_app_id
        self.base_url = settings.github_api_url
        self.rate_limits = RateLimitBook()
        self._jwt = AppJwt(app_id=self.app_id, key=load_private_key(pem), clock=clock)
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport,
            headers={
                "Accept": MEDIA_TYPE,
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT.format(
                    app_name=settings.github_app_name, version=__version__
                ),
            },
            timeout=TIMEOUT,
            # httpx drops the Authorization header when a redirect leaves the host.
            follow_redirects=True,
        )
        self._tokens = InstallationTokens(mint=self._mint_token, clock=clock)
        self._app_client = self._client(_AppAuth(self._jwt))

    def __repr__(self) -> str:
        return f"GitHubApp(app_id={self.app_id}, base_url={self.base_url!r})"

    def app_client(self) -> GitHubClient:
        """A client authenticated as the App (JWT), for /app/... endpoints."""
        return self._app_client

    def installation_client(self, installation_id: int) -> GitHubClient:
        """A client acting as INSTALLATION_ID; tokens are shared by every client of it."""
        return self._client(_InstallationAuth(self._tokens, installation_id))

    def _client(self, auth: _AppAuth | _InstallationAuth) -> GitHubClient:
        return GitHubClient(
            http=self._http,
            base_url=self.base_url,
            auth=auth,
            rate_limits=self.rate_limits,
            sleep=self._sleep,
            clock=self._clock,
        )

    async def _mint_token(self, installation_id: int) -> InstallationToken:
        data = await self._app_client.post(
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": installation_id},
        )
        return InstallationToken(
            token=SecretStr(data["token"]),
            expires_at=datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00")),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GitHubApp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
