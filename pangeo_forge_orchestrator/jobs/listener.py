"""LISTEN pfo_jobs on a dedicated autocommit connection whose socket the event loop watches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from pangeo_forge_orchestrator.jobs.queue import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class JobListener:
    """Call `on_notify` in the event loop whenever a job is enqueued anywhere.

    No thread and no polling: the loop wakes only when the server writes to the socket.
    A broken connection reports itself (`active` turns False) and wakes the worker once, so it
    falls back to polling until it reconnects.
    """

    def __init__(self, engine: sa.Engine, on_notify: Callable[[], None]) -> None:
        self._engine = engine
        self._on_notify = on_notify
        self._connection: Any = None
        # Kept from attach time: a connection the server closed no longer has a fileno().
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def active(self) -> bool:
        return self._loop is not None

    def connect(self) -> None:
        """Open the connection and LISTEN (blocking: call it on a thread)."""
        args, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
        # psycopg2's own objects: `poll()` and `notifies` are outside the DB-API protocol.
        connection: Any = self._engine.dialect.loaded_dbapi.connect(*args, **kwargs)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._connection = connection

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start watching the connection's socket from `loop`."""
        self._fd = self._connection.fileno()
        loop.add_reader(self._fd, self._on_readable)
        self._loop = loop

    def close(self) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
        self._loop = None
        self._fd = None
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # closing a broken connection may fail; it is gone
                log.debug("closing the listen connection failed", exc_info=True)
        self._connection = None

    def _on_readable(self) -> None:
        try:
            self._connection.poll()
        except Exception:  # any failure here means the connection is lost
            log.warning("job notification connection lost; polling until it is back")
            self.close()
            self._on_notify()
            return
        if self._connection.notifies:
            # Several notifications mean the same thing: look for due jobs once.
            self._connection.notifies.clear()
            self._on_notify()
