"""A stateful fake GitHub for tests (see server.py), plus a throwaway App key.

key = AppKey.generate()
gh = FakeGitHub(app_id=APP_ID, public_key=key.public_key)
app = GitHubApp(settings_with(key), transport=gh.transport)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fake_github import routes
from tests.fake_github.server import API_URL, FakeGitHub
from tests.fake_github.state import Call, FakeRepo, IssuedToken, MutableClock, blob_sha


@dataclass(frozen=True)
class AppKey:
    """An RSA key made for the test run; never written to disk or committed."""

    private_key: rsa.RSAPrivateKey

    @staticmethod
    @cache
    def generate() -> AppKey:
        # One key per session: generating 2048-bit keys costs ~50 ms each.
        return AppKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


__all__ = [
    "API_URL",
    "AppKey",
    "Call",
    "FakeGitHub",
    "FakeRepo",
    "IssuedToken",
    "MutableClock",
    "blob_sha",
    "routes",
]
