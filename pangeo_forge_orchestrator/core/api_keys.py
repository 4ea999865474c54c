"""Admin API keys: shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "pfo_"


def new_api_key() -> str:
    # The prefix makes a leaked key recognisable to secret scanners and to people.
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest_api_key(key: str) -> str:
    """SHA-256 is enough: keys carry 256 bits of entropy, so no slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()
