"""The original service's production backup (../shared/legacy/), restored for upgrade tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import make_engine
from pangeo_forge_orchestrator.db.legacy import restore_dump
from tests.conftest import create_database, drop_database, shared_path

LEGACY_DUMP = "legacy/pangeo-forge-orchestrator-prod-2023-12-06.dump"
LEGACY_REVISION = "0499cef6b57a"


def restore_legacy_backup(pg_server: EmbeddedPostgres, admin_engine: sa.Engine) -> str:
    """A new database holding the backup exactly as the original left it; returns its name.

    Skips the calling test when the backup is absent.
    """
    dump = shared_path(LEGACY_DUMP)
    name = create_database(admin_engine)
    try:
        restore_dump(dump, pg_server.url(name))
    except BaseException:
        drop_database(admin_engine, name)
        raise
    return name


@dataclass(frozen=True)
class Original:
    """What the original tables held, read before the upgrade."""

    revision: str
    bakeries: dict[int, dict[str, Any]]
    feedstocks: dict[int, dict[str, Any]]
    runs: dict[int, dict[str, Any]]


def read_rows(conn: sa.Connection, sql: str) -> dict[int, dict[str, Any]]:
    return {row["id"]: dict(row) for row in conn.execute(sa.text(sql)).mappings()}


def read_original(url: str) -> Original:
    engine = make_engine(url)
    with engine.connect() as conn:
        original = Original(
            revision=conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one(),
            bakeries=read_rows(conn, "SELECT * FROM bakery"),
            feedstocks=read_rows(conn, "SELECT * FROM feedstock"),
            runs=read_rows(conn, "SELECT * FROM reciperun"),
        )
    engine.dispose()
    return original
