"""Job kinds: which handler runs a job, and how a handler tells the worker what happened.

One module per job kind under `pangeo_forge_orchestrator/jobs/`, each registering its handler:

    @job_handler("sync_installation")
    async def sync_installation(ctx: JobContext, job: ClaimedJob) -> None: ...

A handler returns to succeed; raises `RetryLater` to come back at a given time without using
an attempt (GitHub rate limits); raises `PermanentFailure` to fail at once; any other exception
retries with backoff until the job's `max_attempts`. Handlers share the worker's event loop:
blocking work goes through `ctx.in_session` or `asyncio.to_thread`, or leases stop being renewed.
Execution is at least once (a job whose worker dies runs again), so effects must be idempotent.

Periodic kinds (cron-like work, DESIGN §7) are ordinary kinds registered with `every=`:

    @job_handler("redeliver_missed_deliveries", every=timedelta(minutes=10))

The worker starts each periodic chain when it starts (`queue.ensure_periodic`: one live instance
across replicas, by the dedupe key `periodic:<kind>`), and when a run ends, succeeded or failed
for good, enqueues the next one `every` later in the same transaction as that outcome.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob, as_utc
from pangeo_forge_orchestrator.settings import Settings

T = TypeVar("T")

JOB_PACKAGE = "pangeo_forge_orchestrator.jobs"


@dataclass(frozen=True, kw_only=True)
class JobContext:
    """What every handler gets besides its job: settings, database and service clients."""

    settings: Settings
    database: Database
    # The GitHub client (factory) once adapters/github.py lands; None when not configured.
    github: Any | None = None
    # Other clients by name (bakeries, runner, ...), so adding one needs no change here.
    services: Mapping[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Any:
        """Return the client registered as `name`, or fail the job with a clear reason."""
        try:
            return self.services[name]
        except KeyError:
            raise PermanentFailure(f"service {name!r} is not configured in this worker") from None

    async def in_session(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a committed session on a thread, so the event loop never blocks."""

        def run() -> T:
            with self.database.session() as session:
                return work(session)

        return await asyncio.to_thread(run)


@dataclass(frozen=True)
class DeliveryIgnored:
    """A handler's answer: the job's delivery needed nothing, for this reason.

    The worker writes it with the job's success, in the same statement (no transaction of its
    own: most of GitHub's traffic is ignored).
    """

    reason: str


Handler = Callable[[JobContext, ClaimedJob], Awaitable[DeliveryIgnored | None]]
H = TypeVar("H", bound=Handler)


class RetryLater(Exception):  # noqa: N818 -- a signal to the worker, not an error
    """Come back at `at` (a rate limit's reset time); the attempt does not count."""

    def __init__(self, at: datetime, reason: str) -> None:
        super().__init__(reason)
        self.at = as_utc(at)
        self.reason = reason

    @classmethod
    def after(cls, delay: timedelta, reason: str) -> RetryLater:
        """Come back `delay` from now (a `Retry-After` header)."""
        return cls(datetime.now(UTC) + delay, reason)


class PermanentFailure(Exception):  # noqa: N818 -- named for what the worker does with it
    """Fail the job now: retrying cannot help (invalid payload, missing configuration)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    every: timedelta | None = None


class Registry:
    """Job kinds by name."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def job_handler(self, kind: str, *, every: timedelta | None = None) -> Callable[[H], H]:
        """Register the decorated coroutine function as the handler of `kind`."""
        if every is not None and every <= timedelta(0):
            raise ValueError(f"a periodic job kind needs a positive interval, got {every}")

        def register(handler: H) -> H:
            known = self._kinds.get(kind)
            if known is not None and _qualified_name(known.handler) != _qualified_name(handler):
                raise ValueError(
                    f"job kind {kind!r} already has the handler {_qualified_name(known.handler)}"
                )
            self._kinds[kind] = JobKind(name=kind, handler=handler, every=every)
            return handler

        return register

    def get(self, kind: str) -> JobKind | None:
        return self._kinds.get(kind)

    def periodic(self) -> list[JobKind]:
        return [kind for kind in self._kinds.values() if kind.every is not None]

    def names(self) -> list[str]:
        return sorted(self._kinds)


REGISTRY = Registry()
job_handler = REGISTRY.job_handler


def discover(package: str = JOB_PACKAGE) -> Registry:
    """Import every module of the jobs package so that their handlers register; return them."""
    root = importlib.import_module(package)
    for module in pkgutil.iter_modules(root.__path__, prefix=f"{package}."):
        importlib.import_module(module.name)
    return REGISTRY


def _qualified_name(handler: Handler) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
