"""The soak's stage (bench/soak.py): a fresh database and the two children, cleaned up after.

Only the web process gets a (made-up) GitHub App, because the receiver refuses deliveries
without one; the worker gets none, so nothing it runs can reach GitHub, and the periodic
missed-delivery job skips itself.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.ingest import private_key_pem
from bench.soak_chaos import WEB, WORKER, Child
from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import make_engine

DATABASE = "pfo_soak"
SECRET = "soak-webhook-secret"
# Nothing may reach GitHub: a closed port fails at once.
NO_GITHUB = "http://127.0.0.1:9"


@dataclass
class Workspace:
    """What run() must clean up, whatever happens."""

    root: Path
    children: list[Child] = field(default_factory=list)
    postgres: EmbeddedPostgres | None = None
    engine: sa.Engine | None = None

    def close(self) -> None:
        for child in self.children:
            child.stop()
        if self.engine is not None:
            self.engine.dispose()
        if self.postgres is not None:
            self.postgres.release()


def fresh_database(workspace: Workspace, given: str | None) -> str:
    """The given database (migrated to head), else a new one on an embedded Postgres."""
    if given:
        migrate.upgrade(given)
        return given
    workspace.postgres = EmbeddedPostgres(workspace.root / "pgdata")
    admin = make_engine(workspace.postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = workspace.postgres.url(DATABASE)
    migrate.upgrade(url)
    return url


def child_env(url: str, *, data_dir: Path, lease_seconds: float) -> dict[str, str]:
    # The harness's own PFO_* settings must not leak into the service under test.
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith("PFO_") and k != "DATABASE_URL"
    }
    return inherited | {
        "DATABASE_URL": url,
        "PFO_DATA_DIR": str(data_dir),
        "PFO_LOG_FORMAT": "json",
        "PFO_GITHUB_WEBHOOK_SECRET": SECRET,
        "PFO_GITHUB_API_URL": NO_GITHUB,
        "PFO_JOB_LEASE_SECONDS": str(lease_seconds),
    }


def pfo_command(*args: str) -> list[str]:
    pfo = Path(sys.executable).with_name("pfo")
    base = [str(pfo)] if pfo.exists() else [sys.executable, "-m", "pangeo_forge_orchestrator"]
    return [*base, *args]


def make_children(workspace: Workspace, url: str, *, port: int, lease_seconds: float) -> None:
    env = child_env(url, data_dir=workspace.root / "data", lease_seconds=lease_seconds)
    web_env = env | {"PFO_GITHUB_APP_ID": "1", "PFO_GITHUB_APP_PRIVATE_KEY": private_key_pem()}
    base_url = f"http://127.0.0.1:{port}"

    async def web_ready(child: Child) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(base_url + "/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def worker_ready(child: Child) -> bool:
        return '"worker started"' in child.log_path.read_text(errors="replace")

    logs = workspace.root / "logs"
    logs.mkdir()
    serve = pfo_command("serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
    workspace.children = [
        Child(name=WEB, command=serve, env=web_env, log_dir=logs, ready=web_ready),
        Child(
            name=WORKER, command=pfo_command("worker"), env=env, log_dir=logs, ready=worker_ready
        ),
    ]
