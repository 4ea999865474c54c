"""The SQL of the job queue (jobs/queue.py), kept apart so that the queue's API reads short."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

NOTIFY_CHANNEL = "pfo_jobs"

INSERT_JOB = sa.text(
    """
    INSERT INTO job (kind, payload, dedupe_key, delivery_id, run_after, max_attempts)
    VALUES (:kind, :payload, :dedupe_key, :delivery_id, COALESCE(:run_after, now()), :max_attempts)
    ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING
    RETURNING id
    """
).bindparams(
    sa.bindparam("payload", type_=JSONB),
    sa.bindparam("run_after", type_=sa.DateTime(timezone=True)),
)

NOTIFY = sa.text(f"NOTIFY {NOTIFY_CHANNEL}")

# Settle a batch of successes and claim the next jobs in ONE statement, which a worker can run
# in autocommit: one round trip and one commit per batch. A settled row is 'running' and a
# claimed one 'queued', so the two UPDATEs of `job` never touch the same row. Settling only
# touches a job its caller still holds (same worker, same attempt).
SETTLE_AND_CLAIM_SQL = """
    WITH done AS (
        UPDATE job SET status = 'succeeded', locked_until = NULL, last_error = NULL,
            finished_at = now(), updated_at = now()
        FROM unnest(
            CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:workers AS text[]),
            CAST(:ignored AS text[])
        ) AS held(id, attempt, worker, ignored)
        WHERE job.id = held.id AND job.status = 'running' AND job.locked_by = held.worker
            AND job.attempts = held.attempt
        RETURNING job.id, job.delivery_id, held.ignored
    ), handled AS (
        -- `ignored` is the reason a delivery needed nothing, NULL when it was handled.
        UPDATE delivery
        SET status = CAST(CASE WHEN done.ignored IS NULL THEN 'handled' ELSE 'ignored' END
                AS delivery_status),
            handled_at = now(), error = done.ignored
        FROM done
        WHERE delivery.id = done.delivery_id AND delivery.status IN ('queued', 'failed')
    ), due AS (
        SELECT id FROM job
        WHERE status = 'queued' AND run_after <= now()
        ORDER BY run_after, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE job
        SET status = 'running', attempts = job.attempts + 1, locked_by = :worker,
            locked_until = now() + make_interval(secs => :lease), updated_at = now()
        FROM due
        WHERE job.id = due.id
        RETURNING job.id, job.kind, job.payload, job.attempts, job.max_attempts, job.dedupe_key,
            job.delivery_id, job.last_error, job.run_after
    )
    -- A delivery's stored columns come with its job, so that screening it needs no query.
    SELECT settled.done_ids, claimed.*, delivery.guid AS delivery_guid,
        delivery.event AS delivery_event, delivery.action AS delivery_action,
        delivery.installation_id AS delivery_installation_id,
        delivery.repository AS delivery_repository
    FROM (SELECT array_agg(id) AS done_ids FROM done) AS settled
    LEFT JOIN claimed ON true
    LEFT JOIN delivery ON delivery.id = claimed.delivery_id
    ORDER BY claimed.run_after, claimed.id
"""
SETTLE_AND_CLAIM = sa.text(SETTLE_AND_CLAIM_SQL)
# Planning that statement costs about as much as running it, so a worker PREPAREs it once on the
# connection it keeps (see `prepare_settle_and_claim`).
PREPARED_SETTLE_AND_CLAIM = "pfo_settle_and_claim"
SETTLE_AND_CLAIM_ARGS = {
    "ids": "bigint[]",
    "attempts": "integer[]",
    "workers": "text[]",
    "ignored": "text[]",
    "limit": "integer",
    "worker": "text",
    "lease": "double precision",
}
EXECUTE_SETTLE_AND_CLAIM = sa.text(
    f"EXECUTE {PREPARED_SETTLE_AND_CLAIM}("
    + ", ".join(f":{name}" for name in SETTLE_AND_CLAIM_ARGS)
    + ")"
)


def _numbered(match: re.Match[str]) -> str:
    return f"${list(SETTLE_AND_CLAIM_ARGS).index(match[1]) + 1}"


PREPARE_SETTLE_AND_CLAIM = (
    f"PREPARE {PREPARED_SETTLE_AND_CLAIM} ({', '.join(SETTLE_AND_CLAIM_ARGS.values())}) AS "
    + re.sub(r":(\w+)\b", _numbered, SETTLE_AND_CLAIM_SQL)
)

FAIL = sa.text(
    """
    UPDATE job SET status = 'failed', locked_until = NULL, last_error = :error,
        finished_at = now(), updated_at = now()
    WHERE id = :id AND status = 'running' AND locked_by = :worker AND attempts = :attempt
    """
)

# Back to the queue: for a retry the attempt stays counted (`uncount` = 0); for a reschedule
# or a release it is given back (`uncount` = 1).
REQUEUE = sa.text(
    """
    UPDATE job SET status = 'queued', attempts = attempts - :uncount, run_after = :run_after,
        locked_until = NULL, locked_by = NULL, last_error = :error, updated_at = now()
    WHERE id = :id AND status = 'running' AND locked_by = :worker AND attempts = :attempt
    """
).bindparams(sa.bindparam("run_after", type_=sa.DateTime(timezone=True)))

RELEASE = sa.text(
    """
    UPDATE job SET status = 'queued', attempts = attempts - 1, locked_until = NULL,
        locked_by = NULL, updated_at = now()
    WHERE id = ANY(:ids) AND status = 'running' AND locked_by = :worker
    """
)

RENEW = sa.text(
    """
    UPDATE job SET locked_until = now() + make_interval(secs => :lease), updated_at = now()
    WHERE id = ANY(:ids) AND status = 'running' AND locked_by = :worker
    RETURNING id
    """
)

RECOVER = sa.text(
    """
    UPDATE job
    SET status = 'queued', locked_until = NULL, locked_by = NULL, updated_at = now(),
        last_error = format(:template, job.attempts, COALESCE(job.locked_by, '?'))
    WHERE id IN (
        SELECT id FROM job WHERE status = 'running' AND locked_until < now()
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
    """
)

SECONDS_UNTIL_DUE = sa.text(
    """
    SELECT EXTRACT(EPOCH FROM LEAST(
        (SELECT min(run_after) FROM job WHERE status = 'queued'),
        (SELECT min(locked_until) FROM job WHERE status = 'running')
    ) - now())
    """
)

DELIVERY_FAILED = sa.text(
    """
    UPDATE delivery SET status = 'failed', handled_at = now(), error = :error
    WHERE id = :delivery_id
    """
)
