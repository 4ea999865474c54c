"""The soak's verdict: what the service stored (SQL), against what the senders were told.

Also the summary printed at the end.

Everything is scoped to the run's GUID prefix (and, for jobs without a delivery, to jobs
created since the run began), so a shared database holding other data gives the same answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bench.report import Check
from bench.soak_chaos import WEB, WORKER
from bench.soak_plan import HANDLED_EVENTS, TrafficPlan
from bench.soak_traffic import Ledger

BACKLOG = sa.text(
    """
    SELECT count(*) FROM job JOIN delivery ON delivery.id = job.delivery_id
    WHERE delivery.guid LIKE :prefix AND job.status IN ('queued', 'running')
    """
)
HELD_BY_PID = sa.text(
    "SELECT count(*) FROM job WHERE status = 'running' AND locked_by LIKE :pattern"
)
STORED = sa.text("SELECT guid, event, status FROM delivery WHERE guid LIKE :prefix")
ROWS = sa.text("SELECT count(*), count(DISTINCT guid) FROM delivery WHERE guid LIKE :prefix")
NOT_ONE_JOB = sa.text(
    """
    SELECT delivery.guid, count(job.id) AS jobs
    FROM delivery LEFT JOIN job ON job.delivery_id = delivery.id
    WHERE delivery.guid LIKE :prefix
    GROUP BY delivery.guid HAVING count(job.id) <> 1
    ORDER BY delivery.guid
    """
)
DELIVERY_JOBS = sa.text(
    """
    SELECT job.status, count(*) AS jobs, count(*) FILTER (WHERE job.attempts > 1) AS reclaimed,
        max(job.attempts) AS most_attempts
    FROM job JOIN delivery ON delivery.id = job.delivery_id
    WHERE delivery.guid LIKE :prefix
    GROUP BY job.status
    """
)
OTHER_JOBS = sa.text(
    """
    SELECT kind, status, count(*) FROM job
    WHERE delivery_id IS NULL AND created_at >= :since
    GROUP BY kind, status
    """
)
FAILED_JOBS = sa.text(
    """
    SELECT job.id, job.kind, delivery.guid, job.attempts, job.last_error
    FROM job LEFT JOIN delivery ON delivery.id = job.delivery_id
    WHERE job.status = 'failed'
        AND (delivery.guid LIKE :prefix OR (job.delivery_id IS NULL AND job.created_at >= :since))
    ORDER BY job.id
    """
)
INSTALLATIONS = sa.text("SELECT count(*) FROM installation WHERE account = :account")
# Listed in full up to this many, then counted.
SAMPLE = 20


def guid_prefix(run: str) -> str:
    return f"soak-{run}-%"


def backlog(engine: sa.Engine, prefix: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(BACKLOG, {"prefix": prefix}).scalar_one())


def jobs_held_by(engine: sa.Engine, pid: int) -> int:
    """Jobs running under a worker of this pid (worker names are host:pid:random)."""
    with engine.connect() as conn:
        return int(conn.execute(HELD_BY_PID, {"pattern": f"%:{pid}:%"}).scalar_one())


async def wait_drained(engine: sa.Engine, *, prefix: str, timeout_s: float) -> dict[str, Any]:
    """Wait until no job of the run is queued or running; how long it took, and what is left."""
    started = time.monotonic()
    left = await asyncio.to_thread(backlog, engine, prefix)
    at_start = left
    while left and time.monotonic() - started < timeout_s:
        await asyncio.sleep(0.2)
        left = await asyncio.to_thread(backlog, engine, prefix)
    return {
        "backlog_at_start": at_start,
        "seconds": round(time.monotonic() - started, 2),
        "left": left,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    prefix: str
    since: datetime
    installation_account: str


def gather(engine: sa.Engine, *, scope: Scope, ledger: Ledger, plan: TrafficPlan) -> dict[str, Any]:
    """The figures the verdict reads, from the database and the senders' ledger."""
    params = {"prefix": scope.prefix, "since": scope.since}
    with engine.connect() as conn:
        rows, distinct = conn.execute(ROWS, params).one()
        stored = conn.execute(STORED, params).all()
        not_one_job = [f"{guid}: {jobs} jobs" for guid, jobs in conn.execute(NOT_ONE_JOB, params)]
        jobs = {row.status: row for row in conn.execute(DELIVERY_JOBS, params)}
        other: dict[str, dict[str, int]] = defaultdict(dict)
        for kind, status, count in conn.execute(OTHER_JOBS, params):
            other[kind][status] = count
        failed = [
            {"job": r.id, "kind": r.kind, "delivery": r.guid, "attempts": r.attempts,
             "error": r.last_error}
            for r in conn.execute(FAILED_JOBS, params)
        ]  # fmt: skip
        installations = conn.execute(
            INSTALLATIONS, {"account": scope.installation_account}
        ).scalar_one()
    stored_guids = {row.guid for row in stored}
    expected_event = {d.guid: d.event for d in plan.deliveries}
    by_event: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    unexpected_status = []
    for row in stored:
        by_event[row.event][row.status] += 1
        want = "handled" if row.event in HANDLED_EVENTS else "ignored"
        if row.status != want or expected_event.get(row.guid) != row.event:
            unexpected_status.append(f"{row.guid} ({row.event}): {row.status}, expected {want}")
    lost = sorted(ledger.acknowledged - stored_guids)
    acknowledged_installations = sum(
        1 for d in plan.deliveries if d.event == "installation" and d.guid in ledger.acknowledged
    )
    return {
        "deliveries_planned": len(plan.deliveries),
        "guids_acknowledged": len(ledger.acknowledged),
        "delivery_rows": rows,
        "duplicate_rows": rows - distinct,
        "lost": len(lost),
        "lost_guids": lost[:SAMPLE],
        "stored_never_acknowledged": len(stored_guids - ledger.acknowledged),
        "deliveries_without_exactly_one_job": len(not_one_job),
        "deliveries_without_exactly_one_job_sample": not_one_job[:SAMPLE],
        "delivery_jobs_by_status": {status: row.jobs for status, row in jobs.items()},
        "jobs_not_finished": sum(jobs[s].jobs for s in ("queued", "running") if s in jobs),
        "jobs_failed": len(failed),
        "jobs_failed_sample": failed[:SAMPLE],
        "jobs_attempted_more_than_once": sum(row.reclaimed for row in jobs.values()),
        "most_attempts_of_a_job": max((row.most_attempts for row in jobs.values()), default=0),
        "other_jobs": {kind: dict(statuses) for kind, statuses in other.items()},
        "deliveries_by_event_and_status": {e: dict(s) for e, s in sorted(by_event.items())},
        "deliveries_with_unexpected_status": len(unexpected_status),
        "deliveries_with_unexpected_status_sample": unexpected_status[:SAMPLE],
        "guids_acknowledged_as_new_twice": ledger.guids_acknowledged_new_twice()[:SAMPLE],
        # Stored by a request whose answer was lost (a kill) or beaten by its duplicate.
        "guids_never_answered_new": len(ledger.acknowledged - set(ledger.new_answers)),
        "installation_rows": installations,
        "installation_deliveries_acknowledged": acknowledged_installations,
        "rejected_sends": ledger.rejected[:SAMPLE],
    }


def verdict(
    figures: dict[str, Any], *, kills: dict[str, int], planned: dict[str, int], crashes: int
) -> list[Check]:
    """Every check the soak must pass; the run passes only if all do."""
    f = figures
    return [
        Check(
            "every delivery acknowledged with a 202",
            f["guids_acknowledged"] == f["deliveries_planned"] and not f["rejected_sends"],
            f"{f['guids_acknowledged']:,} of {f['deliveries_planned']:,}; "
            f"{len(f['rejected_sends'])} rejected",
        ),
        Check("0 lost (acknowledged, no row)", f["lost"] == 0, f"{f['lost']} lost"),
        Check(
            "0 duplicate rows (one row per GUID)",
            f["duplicate_rows"] == 0 and f["delivery_rows"] == f["guids_acknowledged"],
            f"{f['delivery_rows']:,} rows for {f['guids_acknowledged']:,} GUIDs, "
            f"{f['duplicate_rows']} duplicates",
        ),
        Check(
            "exactly one job per delivery",
            f["deliveries_without_exactly_one_job"] == 0,
            f"{f['deliveries_without_exactly_one_job']} deliveries with 0 or 2+ jobs",
        ),
        Check(
            "every job finished",
            f["jobs_not_finished"] == 0,
            f"{f['jobs_not_finished']} queued or running",
        ),
        Check("0 jobs failed", f["jobs_failed"] == 0, f"{f['jobs_failed']} failed"),
        Check(
            "every delivery handled or ignored as its event wants",
            f["deliveries_with_unexpected_status"] == 0,
            f"{f['deliveries_with_unexpected_status']} otherwise",
        ),
        Check(
            "no GUID answered duplicate=false twice",
            not f["guids_acknowledged_as_new_twice"],
            f"{len(f['guids_acknowledged_as_new_twice'])} GUIDs",
        ),
        Check(
            "one installation row per installation delivery (handler effects landed)",
            f["installation_rows"] == f["installation_deliveries_acknowledged"],
            f"{f['installation_rows']} rows for {f['installation_deliveries_acknowledged']}",
        ),
        Check(
            "every planned kill dealt",
            all(kills[name] >= planned[name] for name in planned),
            ", ".join(f"{name} {kills[name]}/{planned[name]}" for name in planned),
        ),
        Check("no child exited on its own", crashes == 0, f"{crashes} exits we did not cause"),
    ]


def summary(results: dict[str, Any]) -> str:
    """The figures as a reader wants them, checks first."""
    f, sends, seconds = results["figures"], results["sends"], results["seconds"]
    lines = [check_line(check) for check in results["checks"]]
    lines += [
        "",
        f"deliveries acknowledged (unique GUIDs): {f['guids_acknowledged']:,}",
        f"delivery rows: {f['delivery_rows']:,}; duplicate rows: {f['duplicate_rows']}; "
        f"lost: {f['lost']}; GUIDs never answered duplicate=false (answer lost to a kill, or "
        f"a concurrent duplicate won): {f['guids_never_answered_new']}",
        f"job rows per delivery other than 1: {f['deliveries_without_exactly_one_job']}",
        f"jobs not finished: {f['jobs_not_finished']}; failed: {f['jobs_failed']}",
        f"jobs attempted more than once (re-claimed after kills): "
        f"{f['jobs_attempted_more_than_once']} (most attempts: {f['most_attempts_of_a_job']}; "
        f"jobs held at worker kills: {results['jobs_held_at_worker_kills']}, "
        f"in {results['worker_kills_with_jobs_held']} of {results['kills'][WORKER]} kills)",
        f"kills: web {results['kills'][WEB]}, worker {results['kills'][WORKER]}, "
        f"total {results['kills']['total']}",
        f"sends: {sends['planned']:,} planned, {sends['attempts']:,} attempts, "
        f"{sends['sends_needing_a_retry']:,} needed a retry; failures "
        f"{sends['failed_attempts_by_reason']}; answered duplicate: "
        f"{sends['answered_duplicate_true']:,}",
        f"deliveries by event and status: {f['deliveries_by_event_and_status']}",
        f"other jobs: {f['other_jobs']}",
        f"duration: {seconds['total']} s (sending {seconds['sending']} s, drain "
        f"{seconds['drain_after_sending']} s); {results['acknowledged_per_s']} deliveries/s "
        f"acknowledged through the kills; machine busy {results['machine_busy_percent']}%",
        "PASSED" if results["passed"] else "FAILED",
    ]
    for sample in ("lost_guids", "jobs_failed_sample", "deliveries_without_exactly_one_job_sample"):
        if f[sample]:
            lines.append(f"{sample}: {json.dumps(f[sample], default=str)}")
    if results["unexpected_exits"]:
        lines.append(f"unexpected exits: {results['unexpected_exits']}")
    return "\n".join(lines)


def check_line(check: dict[str, Any]) -> str:
    return f"{'PASS' if check['passed'] else 'FAIL'}  {check['name']}: {check['detail']}"
