"""Compare a database's schema with the SQLModel tables (Alembic autogenerate's comparison)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import pangeo_forge_orchestrator.db.tables  # noqa: F401  (registers the tables on the metadata)
from pangeo_forge_orchestrator.db.engine import make_engine


def schema_differences(url: str) -> list[object]:
    """What autogenerate would change to make the database at `url` match the tables."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": lambda obj, name, type_, reflected, compare_to: (
                        not (type_ == "table" and name == "alembic_version")
                    ),
                },
            )
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()
