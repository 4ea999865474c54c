"""Google service-account access tokens over httpx (OAuth 2.0 "JWT bearer" flow).

A service-account key signs an RS256 assertion; the key's `token_uri` exchanges it for an access
token, cached until shortly before it expires. No Google client library: pyjwt and cryptography
are enough. Neither the private key nor a token ever appears in an exception message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowAuthError,
    DataflowUnavailableError,
)

Clock = Callable[[], datetime]

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google refuses assertions that live longer than an hour.
ASSERTION_LIFETIME = timedelta(hours=1)
# A token is renewed this long before it expires, so a slow request never carries a dead one.
TOKEN_RENEW_BEFORE = timedelta(seconds=60)
DEFAULT_TOKEN_LIFETIME = 3600

KEY_UNREADABLE = "cannot read the service-account key file {path}: {reason}"
KEY_INVALID = "{path} is not a Google service-account key: {reason}"
TOKEN_REFUSED = "Google refused an access token to {email} (HTTP {status}: {error})"  # noqa: S105
TOKEN_UNAVAILABLE = "Google's token endpoint {detail}"  # noqa: S105
KEY_FIELDS = ("client_email", "private_key", "token_uri")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class ServiceAccountKey:
    """The parts of a Google service-account key file that the JWT bearer flow needs."""

    client_email: str
    private_key: RSAPrivateKey = field(repr=False)
    token_uri: str

    @classmethod
    def from_json(cls, text: str, *, source: str) -> ServiceAccountKey:
        """Parse a key file's JSON; errors name `source` and the problem, never the key."""
        try:
            data = json.loads(text)
        except ValueError:
            raise DataflowAuthError(KEY_INVALID.format(path=source, reason="not JSON")) from None
        if not isinstance(data, dict):
            raise DataflowAuthError(KEY_INVALID.format(path=source, reason="not a JSON object"))
        missing = [name for name in KEY_FIELDS if not data.get(name)]
        if missing:
            reason = "missing " + ", ".join(missing)
            raise DataflowAuthError(KEY_INVALID.format(path=source, reason=reason))
        try:
            key = serialization.load_pem_private_key(
                str(data["private_key"]).encode(), password=None
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            reason = "private_key is not an unencrypted PEM key"
            raise DataflowAuthError(KEY_INVALID.format(path=source, reason=reason)) from None
        if not isinstance(key, RSAPrivateKey):
            reason = "private_key is not an RSA key (Google signs with RS256)"
            raise DataflowAuthError(KEY_INVALID.format(path=source, reason=reason))
        return cls(
            client_email=str(data["client_email"]),
            private_key=key,
            token_uri=str(data["token_uri"]),
        )

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccountKey:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise DataflowAuthError(KEY_UNREADABLE.format(path=path, reason=reason)) from None
        return cls.from_json(text, source=str(path))


def jwt_assertion(*, key: ServiceAccountKey, audience: str, now: datetime) -> str:
    """Sign the RS256 assertion that Google exchanges for an access token."""
    claims = {
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ASSERTION_LIFETIME).timestamp()),
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256")


def retry_after(response: httpx.Response) -> timedelta | None:
    """Google's `Retry-After` in seconds, when it sent one."""
    value = response.headers.get("retry-after", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} for anything else."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class AccessToken:
    value: SecretStr
    expires_at: datetime


class ServiceAccountTokens:
    """One service account's access token: exchanged on demand, shared, renewed early.

    `credentials` is a key, or a key file's path read at each exchange (a rotated key is then
    picked up within the hour). Concurrent callers wait for one exchange and share its token.
    """

    def __init__(
        self,
        credentials: ServiceAccountKey | Path,
        *,
        token_uri: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._credentials = credentials
        self._token_uri = token_uri
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self.email = credentials.client_email if isinstance(credentials, ServiceAccountKey) else ""

    def __repr__(self) -> str:
        return f"ServiceAccountTokens({self.email or self._credentials!s})"

    async def get(self, client: httpx.AsyncClient) -> AccessToken:
        """A token valid for at least TOKEN_RENEW_BEFORE more."""
        token = self._token
        if token is not None and self._usable(token):
            return token
        async with self._lock:
            token = self._token
            if token is None or not self._usable(token):
                token = self._token = await self._exchange(client)
            return token

    async def renew(self, client: httpx.AsyncClient, *, stale: AccessToken) -> AccessToken:
        """A new token in place of one the API refused (unless another caller renewed it)."""
        async with self._lock:
            token = self._token
            if token is None or token is stale:
                token = self._token = await self._exchange(client)
            return token

    def _usable(self, token: AccessToken) -> bool:
        return self._clock() < token.expires_at - TOKEN_RENEW_BEFORE

    async def _exchange(self, client: httpx.AsyncClient) -> AccessToken:
        """Trade a signed assertion for an access token at the token endpoint."""
        key = self._credentials
        if isinstance(key, Path):
            key = ServiceAccountKey.from_file(key)
        self.email = key.client_email
        token_uri = self._token_uri or key.token_uri
        now = self._clock()
        assertion = jwt_assertion(key=key, audience=token_uri, now=now)
        try:
            response = await client.post(
                token_uri, data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
            )
        except httpx.TransportError as error:
            detail = f"is unreachable: {error!r}"
            raise DataflowUnavailableError(TOKEN_UNAVAILABLE.format(detail=detail)) from None
        status = response.status_code
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
            raise DataflowUnavailableError(
                TOKEN_UNAVAILABLE.format(detail=f"answered HTTP {status}"),
                status=status,
                retry_after=retry_after(response),
            )
        data = json_object(response)
        access_token = data.get("access_token")
        if response.is_error or not isinstance(access_token, str):
            # Google's `error` is a short code (invalid_grant); never echo the whole body.
            code = str(data.get("error") or "no access_token")[:100]
            raise DataflowAuthError(
                TOKEN_REFUSED.format(email=key.client_email, status=status, error=code),
                status=status,
            )
        lifetime = timedelta(seconds=int(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME))
        return AccessToken(value=SecretStr(access_token), expires_at=now + lifetime)
