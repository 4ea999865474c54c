"""Building signed deliveries, an app configured as a GitHub App, and reading what was stored."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.handle_delivery import handle_delivery
from pangeo_forge_orchestrator.jobs.registry import DeliveryIgnored, JobContext, PermanentFailure
from pangeo_forge_orchestrator.settings import Settings
from tests.conftest import SHARED, shared_path

SECRET = "test-webhook-secret"
HOOKS = "/github/hooks/"
EXAMPLE_DIRS = ("examples", "examples-extra", "examples-more")


@cache
def app_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def app_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "github_app_id": 12345,
        "github_app_private_key": SecretStr(app_private_key()),
        "github_webhook_secret": SecretStr(SECRET),
        "log_format": "console",
    }
    values.update(overrides)
    return Settings(**values)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(
    body: bytes,
    *,
    event: str,
    guid: str | None = None,
    secret: str = SECRET,
    content_type: str = "application/json",
) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
    }


def example_files() -> list[Path]:
    """Every example delivery in ../shared/github/webhooks/examples*/ (folder name = event)."""
    files = []
    for name in EXAMPLE_DIRS:
        folder = SHARED / "github" / "webhooks" / name
        files += [p for p in folder.rglob("*.json") if p.parent != folder]
    return sorted(files)


def example(relative: str) -> bytes:
    """An example delivery's bytes, by its path under github/webhooks/ (skips when absent)."""
    return shared_path(f"github/webhooks/{relative}").read_bytes()


def payload_with(relative: str, **changes: Any) -> bytes:
    """An example payload with top-level keys replaced (e.g. another repository)."""
    payload = json.loads(example(relative))
    payload.update(changes)
    return json.dumps(payload).encode()


@dataclass(frozen=True)
class StoredRows:
    deliveries: list[Any]
    jobs: list[Any]


def stored(database: Database) -> StoredRows:
    with database.engine.connect() as conn:
        deliveries = conn.execute(sa.text("SELECT * FROM delivery ORDER BY id")).all()
        jobs = conn.execute(sa.text("SELECT * FROM job ORDER BY id")).all()
    return StoredRows(deliveries=list(deliveries), jobs=list(jobs))


def run_jobs(settings: Settings, database: Database) -> None:
    """Claim and run queued jobs, settling them as the worker does, until none is left."""
    ctx = JobContext(settings=settings, database=database)

    async def drain() -> None:
        while True:
            with database.session() as session:
                jobs = queue.claim(session, worker="test", limit=10, lease=timedelta(minutes=1))
            if not jobs:
                return
            for job in jobs:
                try:
                    ended = await handle_delivery(ctx, job)
                except PermanentFailure as failure:
                    with database.session() as session:
                        queue.fail(session, job, error=failure.reason, retry=False)
                else:
                    # As the worker does: an ignored delivery is marked with the job's success.
                    ignored = ended.reason if isinstance(ended, DeliveryIgnored) else None
                    with database.session() as session:
                        queue.complete(session, job, ignored=ignored)

    asyncio.run(drain())
