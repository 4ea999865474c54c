"""GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from pangeo_forge_orchestrator.settings import Settings

SIGNATURE_PREFIX = "sha256="


def signature_for(body: bytes, secret: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, secrets: Sequence[bytes]) -> bool:
    """True when the header is the signature of `body` under any of the secrets.

    Every secret is tried, with a constant-time comparison, so timing tells nothing about
    which one matched or how much of the header was right.
    """
    if not header or not secrets:
        return False
    # Starlette decodes headers as latin-1; bytes keep compare_digest away from non-ASCII str.
    given = header.encode("latin-1", "replace")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(signature_for(body, secret).encode(), given)
    return matched


def webhook_secrets(settings: Settings) -> tuple[bytes, ...]:
    """The current secret, then the previous one while a rotation is under way."""
    return tuple(
        secret.get_secret_value().encode()
        for secret in (settings.github_webhook_secret, settings.github_webhook_secret_previous)
        if secret is not None and secret.get_secret_value()
    )
