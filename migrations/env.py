"""Alembic environment: the URL comes from db/migrate.py (from Settings) or from alembic.ini's caller."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

import pangeo_forge_orchestrator.db.tables  # noqa: F401  (registers the tables on the metadata)

config = context.config
target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # alembic_version belongs to Alembic itself; nothing else in the database is foreign to us.
    return not (type_ == "table" and name == "alembic_version")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url:
        _run_on(url)
        return
    # The bare `alembic` command line: take the database from Settings, as `pfo migrate` does.
    from pangeo_forge_orchestrator.db.engine import database_url_for
    from pangeo_forge_orchestrator.settings import Settings

    with database_url_for(Settings()) as settings_url:
        _run_on(settings_url)


def _run_on(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        compare_server_default=True,
        # One transaction for the whole run: a migration that fails or refuses (the adoption's
        # downgrade with data in it) leaves the database at the revision it started from, not
        # half-way, so the release that asked for it can be rolled back as it was.
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
