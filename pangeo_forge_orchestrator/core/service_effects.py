"""The effects on this service itself: rows to record and jobs to enqueue (see core.effects).

Each is applied in the same transaction as the state change that caused it (the outbox), and
its `dedupe_key` doubles as the job's dedupe key, so a replayed delivery enqueues nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFeedstock:
    """Insert the feedstock row if absent (unique `spec`)."""

    spec: str

    @property
    def dedupe_key(self) -> str:
        return f"feedstock:{self.spec}"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueTestRun:
    """Record a `queued` test run; with `requested_by` set, also enqueue its dispatch (outbox).

    `after_run_id` names the finished run this one re-attempts: one new attempt per earlier
    run, however often the request is redelivered.
    """

    feedstock_spec: str
    head_sha: str
    recipe_id: str
    bakery: str
    pr_number: int | None
    requested_by: str | None = None
    comment_id: int | None = None
    after_run_id: int | None = None

    @property
    def dedupe_key(self) -> str:
        attempt = f"after-{self.after_run_id}" if self.after_run_id else "first"
        return f"test-run:{self.feedstock_spec}:{self.head_sha}:{self.recipe_id}:{attempt}"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueProductionRun:
    """Record a `queued` production run and enqueue the job that deploys and launches it."""

    feedstock_spec: str
    head_sha: str
    recipe_id: str
    bakery: str
    pr_number: int | None
    requested_by: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"production-run:{self.feedstock_spec}:{self.head_sha}:{self.recipe_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchRun:
    """Mark a queued run as requested and enqueue its submission to the bakery."""

    run_id: int
    requested_by: str
    comment_id: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"dispatch:{self.run_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRun:
    """Complete the run `cancelled` (see core.runs) and stop its bake if one started."""

    run_id: int
    reason: str

    @property
    def dedupe_key(self) -> str:
        return f"cancel:{self.run_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpandMeta:
    """Enqueue `pangeo-forge-runner expand-meta` in a scrubbed, secret-free subprocess."""

    feedstock_spec: str
    head_sha: str
    feedstock_subdir: str
    pr_number: int | None
    # After a merge, the expanded ids feed production runs instead of test runs.
    for_production: bool = False

    @property
    def dedupe_key(self) -> str:
        purpose = "production" if self.for_production else "test"
        return f"expand-meta:{self.feedstock_spec}:{self.head_sha}:{purpose}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateFeedstock:
    """Enqueue the resumable feedstock-creation job (core.feedstock_creation)."""

    staged_recipes_spec: str
    recipe_name: str
    pr_number: int
    merge_sha: str

    @property
    def dedupe_key(self) -> str:
        return f"create-feedstock:{self.staged_recipes_spec}:{self.recipe_name}"
