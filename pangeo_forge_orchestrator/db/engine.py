"""Engine and sessions. One engine per process, built from Settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from pangeo_forge_orchestrator.settings import Settings

PROBE_TIMEOUT_SECONDS = 2


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine whose sessions see UTC, so timestamps round-trip without surprises."""
    options: dict[str, Any] = {
        # No pre-ping: it costs a round trip per request (measured: it halved small routes'
        # throughput). Recycling bounds how stale a pooled connection can get instead.
        "pool_recycle": 1800,
        "pool_size": 10,
        "max_overflow": 20,
        "connect_args": {"options": "-c timezone=UTC"},
    }
    options.update(kwargs)
    return sa.create_engine(url, **options)


@dataclass
class Database:
    """The process's engine and session factory, with engines for reads in autocommit."""

    engine: sa.Engine
    sessions: sessionmaker[Session]
    # A read is then one round trip instead of BEGIN + query + ROLLBACK. Its own pool, not
    # `engine.execution_options(isolation_level=...)`: switching a pooled connection in and out
    # of autocommit on every checkout cost as much CPU as the two round trips saved (measured:
    # 0.35-0.45 ms per counter read either way, 0.20-0.24 ms with connections left in autocommit).
    reader: sa.Engine
    # One connection in autocommit for one-row reads made on the event loop (the answer cache's
    # counter): only the loop's thread uses it, one read at a time, so it never waits for a
    # connection; a statement timeout bounds how long a sick database can hold the loop.
    probe: sa.Engine

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> Database:
        engine = make_engine(url, **engine_options)
        reader = make_engine(url, **{**engine_options, "isolation_level": "AUTOCOMMIT"})
        probe = make_engine(
            url,
            **{
                **engine_options,
                "isolation_level": "AUTOCOMMIT",
                "pool_size": 1,
                "max_overflow": 0,
                "pool_timeout": PROBE_TIMEOUT_SECONDS,
                "connect_args": {
                    "options": f"-c timezone=UTC -c statement_timeout={PROBE_TIMEOUT_SECONDS}s",
                    "connect_timeout": PROBE_TIMEOUT_SECONDS,
                },
            },
        )
        return cls(
            engine=engine,
            sessions=sessionmaker(engine, expire_on_commit=False),
            reader=reader,
            probe=probe,
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self.reader.dispose()
        self.probe.dispose()


@contextmanager
def database_url_for(settings: Settings) -> Iterator[str]:
    """The configured DATABASE_URL, or the URL of an embedded server kept up inside the block."""
    if settings.database_url:
        yield settings.database_url
        return
    from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(settings.embedded_database_dir)
    try:
        yield server.url()
    finally:
        server.release()
