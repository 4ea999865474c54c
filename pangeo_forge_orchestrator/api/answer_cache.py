"""Recent answers of the public reads, served again while the data they show is unchanged.

The website asks for the same pages over and over, and runs change a few times a minute: most
reads can skip the query and the JSON. Every transaction that writes `bakery`, `feedstock` or
`recipe_run` raises the `api_changes` counter when it commits (a trigger; see the migration
3f6b8d2a9c15). A read first takes the counter (one indexed row), then computes its answer, and
keeps it under the counter's value; it is served again only while the counter holds that value.

Why that is never stale: the counter moves in the same commit as the data. If a write commits
between the counter read and the query, the answer holds the new data under the old value,
and the next read sees a new value and computes again: a wasted entry, never a stale answer.

Only 200 answers of GETs are kept, keyed by path and query string (the `Link` header is part of
the answer). The cache is per process and bounded in bytes; any change empties it, since every
entry was computed before that change.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from pangeo_forge_orchestrator.api.crud import reading, reading_on_loop
from pangeo_forge_orchestrator.db import counters
from pangeo_forge_orchestrator.db.engine import Database

# Enough for every 100-row page a busy website asks for; the largest single answers (a
# feedstock's whole dataset list) are ~1.5 MB for the busiest feedstock in production.
MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRY_BYTES = 4 * 1024 * 1024

log = logging.getLogger(__name__)

# Computes an answer from a connection in autocommit (each statement its own snapshot).
Compute = Callable[[sa.Connection], Response]


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        return Response(self.body, headers=dict(self.headers), media_type="application/json")


class AnswerCache:
    """Answers by request key, all computed at one value of the change counter."""

    def __init__(self, *, max_bytes: int = MAX_BYTES, max_entry_bytes: int = MAX_ENTRY_BYTES):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._version: int | None = None
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str, version: int) -> Answer | None:
        with self._lock:
            if self._version is None or version > self._version:
                self._clear(version)
            elif version < self._version:
                # Read before a change this process has already seen: compute, keep nothing.
                self.misses += 1
                return None
            answer = self._answers.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._answers.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: str, version: int, response: Response) -> None:
        body = bytes(response.body)
        if response.status_code != 200 or len(body) > self.max_entry_bytes:
            return
        # Content-Length and Content-Type are set again by the Response built from the entry.
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        )
        with self._lock:
            if version != self._version:
                # Computed before a change this process has already seen: keep nothing.
                return
            previous = self._answers.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._answers[key] = Answer(body, headers)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._answers.popitem(last=False)
                self._bytes -= len(evicted.body)

    @property
    def size(self) -> tuple[int, int]:
        """(answers, bytes) held now."""
        with self._lock:
            return len(self._answers), self._bytes

    def _clear(self, version: int) -> None:
        self._answers.clear()
        self._bytes = 0
        self._version = version


def request_key(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{request.url.path}?{query}"


def _computed_by_reader(database: Database, compute: Compute) -> Response:
    with reading(database) as conn:
        return compute(conn)


async def cached(request: Request, compute: Compute) -> Response:
    """The answer to this GET: kept from an earlier request, or computed now and kept.

    The counter is read on the event loop (one indexed row, ~0.1 ms), so a hit costs no thread
    hop; a miss computes in the threadpool on a reader connection, as any other read.
    """
    database: Database = request.app.state.database
    cache: AnswerCache = request.app.state.answer_cache
    key = request_key(request)
    try:
        with reading_on_loop(database) as conn:
            version = counters.api_changes(conn)
    except (LookupError, sa.exc.SQLAlchemyError) as exc:
        # No counter to trust (not migrated, or the probe failed): answer without the cache.
        log.warning("answer cache bypassed: %s", type(exc).__name__)
        return await run_in_threadpool(_computed_by_reader, database, compute)
    answer = cache.get(key, version)
    if answer is not None:
        return answer.response()
    response = await run_in_threadpool(_computed_by_reader, database, compute)
    cache.put(key, version, response)
    return response
