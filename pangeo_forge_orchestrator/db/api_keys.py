"""Storage of admin API keys."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from pangeo_forge_orchestrator.core.api_keys import digest_api_key, new_api_key
from pangeo_forge_orchestrator.db.tables import ApiKey


class KeyCheck(Enum):
    VALID = "valid"
    UNKNOWN = "unknown"
    REVOKED = "revoked"


def create_api_key(session: Session, *, name: str) -> str:
    """Store a new key for `name` and return its plain text, which is never stored."""
    key = new_api_key()
    session.add(ApiKey(name=name, key_sha256=digest_api_key(key)))
    session.flush()
    return key


def check_api_key(session: Session, key: str) -> KeyCheck:
    digest = digest_api_key(key)
    row = session.execute(
        sa.select(col(ApiKey.key_sha256), col(ApiKey.revoked_at)).where(
            col(ApiKey.key_sha256) == digest
        )
    ).first()
    # The lookup is by digest, so timing reveals nothing about the key; compare anyway so the
    # rule holds even if the lookup changes.
    if row is None or not hmac.compare_digest(row.key_sha256, digest):
        return KeyCheck.UNKNOWN
    return KeyCheck.REVOKED if row.revoked_at is not None else KeyCheck.VALID


def revoke_api_keys(session: Session, *, name: str) -> int:
    revoked = session.scalars(
        sa.update(ApiKey)
        .where(col(ApiKey.name) == name, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(col(ApiKey.id))
    ).all()
    return len(revoked)
