"""GitHub App authentication: the App's JWT and cached installation access tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.github.errors import GitHubNotConfigured

Clock = Callable[[], datetime]

# GitHub checks `iat` against its own clock: back-dating tolerates a server clock running ahead.
JWT_BACKDATE = timedelta(seconds=60)
# GitHub refuses an `exp` more than 10 minutes ahead; 9 leaves room for our clock running fast.
JWT_LIFETIME = timedelta(minutes=9)
# A cached JWT is re-signed this long before it expires, so a slow request never carries a dead one.
JWT_RENEW_BEFORE = timedelta(minutes=2)
# Installation tokens live an hour; renewing 5 minutes early keeps long jobs off a dying token.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)

KEY_NOT_PEM = "the GitHub App private key is not an unencrypted PEM private key"
KEY_NOT_RSA = "the GitHub App private key is not an RSA key (GitHub signs App JWTs with RS256)"


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_private_key(pem: SecretStr) -> RSAPrivateKey:
    """Parse the App key once; errors name the problem, never the key."""
    try:
        key = serialization.load_pem_private_key(pem.get_secret_value().encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise GitHubNotConfigured(KEY_NOT_PEM) from None
    if not isinstance(key, RSAPrivateKey):
        raise GitHubNotConfigured(KEY_NOT_RSA)
    return key


def app_jwt(*, app_id: int, key: RSAPrivateKey, now: datetime) -> tuple[str, datetime]:
    """Sign the App's JWT (RS256, `iss` = App id); return it with its expiry."""
    expires_at = now + JWT_LIFETIME
    claims = {
        "iat": int((now - JWT_BACKDATE).timestamp()),
        "exp": int(expires_at.timestamp()),
        # PyJWT >= 2.10 only accepts a string `iss`; GitHub takes the App id either way.
        "iss": str(app_id),
    }
    return jwt.encode(claims, key, algorithm="RS256"), expires_at


class AppJwt:
    """The App's JWT, re-signed shortly before it expires."""

    def __init__(self, *, app_id: int, key: RSAPrivateKey, clock: Clock = utcnow) -> None:
        self.app_id = app_id
        self._key = key
        self._clock = clock
        self._current: tuple[SecretStr, datetime] | None = None

    def token(self) -> SecretStr:
        now = self._clock()
        if self._current is None or self._current[1] - now <= JWT_RENEW_BEFORE:
            encoded, expires_at = app_jwt(app_id=self.app_id, key=self._key, now=now)
            self._current = (SecretStr(encoded), expires_at)
        return self._current[0]

    def forget(self) -> None:
        self._current = None

    def __repr__(self) -> str:
        return f"AppJwt(app_id={self.app_id})"


@dataclass(frozen=True)
class InstallationToken:
    """An installation access token; SecretStr keeps it out of reprs and logs."""

    token: SecretStr
    expires_at: datetime

    def usable(self, now: datetime, *, margin: timedelta = TOKEN_REFRESH_MARGIN) -> bool:
        return now < self.expires_at - margin


Mint = Callable[[int], Awaitable[InstallationToken]]


class InstallationTokens:
    """Installation tokens per installation id, refreshed by one caller at a time."""

    def __init__(
        self, *, mint: Mint, clock: Clock = utcnow, margin: timedelta = TOKEN_REFRESH_MARGIN
    ) -> None:
        self._mint = mint
        self._clock = clock
        self._margin = margin
        self._tokens: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def get(self, installation_id: int) -> SecretStr:
        seen = self._tokens.get(installation_id)
        if seen is not None and seen.usable(self._clock(), margin=self._margin):
            return seen.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            current = self._tokens.get(installation_id)
            now = self._clock()
            # Minted by whoever held the lock before us: use it even if GitHub gave it a short
            # life, or N waiters would mint N tokens one after the other.
            if current is not None and (
                current.usable(now, margin=self._margin)
                or (current is not seen and current.usable(now, margin=timedelta(0)))
            ):
                return current.token
            fresh = await self._mint(installation_id)
            self._tokens[installation_id] = fresh
            return fresh.token

    def forget(self, installation_id: int, token: SecretStr) -> None:
        """Drop TOKEN (GitHub refused it), unless a newer one already replaced it."""
        current = self._tokens.get(installation_id)
        if current is not None and current.token.get_secret_value() == token.get_secret_value():
            del self._tokens[installation_id]

    def __repr__(self) -> str:
        return f"InstallationTokens(installations={sorted(self._tokens)})"
