"""The queue on a real Postgres: every transaction below commits for real."""

from __future__ import annotations

import select
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.core.backoff import Backoff
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from tests.jobs.conftest import delivery_row, insert_delivery, job_row

LEASE = timedelta(seconds=30)


def try_enqueue(database: Database, **kwargs: Any) -> int | None:
    kwargs.setdefault("kind", "noop")
    kwargs.setdefault("payload", {})
    with database.session() as session:
        return queue.enqueue(session, **kwargs)


def enqueue(database: Database, **kwargs: Any) -> int:
    job_id = try_enqueue(database, **kwargs)
    assert job_id is not None
    return job_id


def claim(
    database: Database, *, worker: str = "w1", limit: int = 10, lease: timedelta = LEASE
) -> list[ClaimedJob]:
    with database.session() as session:
        return queue.claim(session, worker=worker, limit=limit, lease=lease)


def make_due(database: Database, job_id: int) -> None:
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE job SET run_after = now() WHERE id = :id"), {"id": job_id})


def claim_one(database: Database, **kwargs: Any) -> ClaimedJob:
    [job] = claim(database, limit=1, **kwargs)
    return job


def test_enqueue_writes_in_the_callers_transaction(database: Database) -> None:
    with database.sessions() as session:
        rolled_back = queue.enqueue(session, kind="noop", payload={"a": 1})
        session.rollback()
    with database.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM job")).scalar_one() == 0
    assert rolled_back is not None

    job_id = enqueue(database, payload={"a": 1}, max_attempts=3)

    row = job_row(database, job_id)
    assert (row.kind, row.payload, row.status, row.attempts, row.max_attempts) == (
        "noop",
        {"a": 1},
        "queued",
        0,
        3,
    )


def test_enqueue_notifies_listeners_at_commit_only(database: Database) -> None:
    listener = database.engine.raw_connection()
    try:
        dbapi: Any = listener.dbapi_connection
        dbapi.autocommit = True
        dbapi.cursor().execute(f"LISTEN {queue.NOTIFY_CHANNEL}")
        with database.session() as session:
            queue.enqueue(session, kind="noop", payload={})
            dbapi.poll()
            assert dbapi.notifies == []
        select.select([dbapi], [], [], 2.0)
        dbapi.poll()
        assert [n.channel for n in dbapi.notifies] == [queue.NOTIFY_CHANNEL]
    finally:
        listener.invalidate()


def test_dedupe_key_is_unique_among_live_jobs_only(database: Database) -> None:
    first = try_enqueue(database, dedupe_key="sync:1")
    assert first is not None
    assert try_enqueue(database, dedupe_key="sync:1") is None
    assert try_enqueue(database, dedupe_key="sync:2") is not None

    job = claim_one(database)
    assert job.id == first
    assert try_enqueue(database, dedupe_key="sync:1") is None  # running is live too
    with database.session() as session:
        assert queue.complete(session, job)

    assert try_enqueue(database, dedupe_key="sync:1") is not None


def test_claim_takes_due_jobs_oldest_first_and_leases_them(database: Database) -> None:
    now = datetime.now(UTC)
    late = enqueue(database, run_after=now - timedelta(minutes=1))
    early = enqueue(database, run_after=now - timedelta(minutes=5))
    enqueue(database, run_after=now + timedelta(minutes=5))

    jobs = claim(database, worker="w1", limit=10)

    assert [job.id for job in jobs] == [early, late]
    assert all(job.attempt == 1 and job.locked_by == "w1" for job in jobs)
    row = job_row(database, early)
    assert row.status == "running"
    assert row.locked_by == "w1"
    assert timedelta(seconds=25) < row.locked_until - datetime.now(UTC) <= LEASE
    assert claim(database, worker="w2") == []


def test_claim_carries_the_delivery_guid(database: Database) -> None:
    delivery_id = insert_delivery(database, guid="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    enqueue(database, delivery_id=delivery_id)

    job = claim_one(database)

    assert (job.delivery_id, job.delivery_guid) == (
        delivery_id,
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    )
    # The rest of its stored columns too, so it can be screened without a query.
    assert (job.delivery_event, job.delivery_action, job.delivery_repository) == (
        "ping",
        None,
        None,
    )


def test_claimed_jobs_without_a_delivery_carry_none_of_its_columns(database: Database) -> None:
    enqueue(database)
    job = claim_one(database)
    assert (job.delivery_id, job.delivery_guid, job.delivery_event) == (None, None, None)


def test_concurrent_claims_never_hand_out_a_job_twice(database: Database) -> None:
    with database.session() as session:
        for n in range(400):
            queue.enqueue(session, kind="noop", payload={"n": n})
    taken: list[int] = []
    lock = threading.Lock()

    def drain(worker: str) -> None:
        while True:
            jobs = claim(database, worker=worker, limit=3)
            if not jobs:
                return
            with database.session() as session:
                for job in jobs:
                    assert queue.complete(session, job)
            with lock:
                taken.extend(job.id for job in jobs)

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(taken) == 400
    assert Counter(taken).most_common(1)[0][1] == 1


def test_complete_settles_the_delivery_unless_a_handler_ignored_it(database: Database) -> None:
    handled = insert_delivery(database, guid="a")
    ignored = insert_delivery(database, guid="b", status="ignored")
    enqueue(database, delivery_id=handled)
    enqueue(database, delivery_id=ignored)

    with database.session() as session:
        for job in queue.claim(session, worker="w1", limit=2, lease=LEASE):
            assert queue.complete(session, job)

    assert delivery_row(database, handled).status == "handled"
    assert delivery_row(database, handled).handled_at is not None
    assert delivery_row(database, ignored).status == "ignored"


def test_complete_marks_a_delivery_ignored_with_the_reason_given(database: Database) -> None:
    ignored, handled = insert_delivery(database, guid="a"), insert_delivery(database, guid="b")
    enqueue(database, delivery_id=ignored)
    enqueue(database, delivery_id=handled)
    jobs = {job.delivery_id: job for job in claim(database, limit=2)}

    with database.session() as session:
        done = queue.complete_many(
            session, list(jobs.values()), ignored={jobs[ignored].id: "not a feedstock"}
        )

    assert done == {job.id for job in jobs.values()}
    assert (delivery_row(database, ignored).status, delivery_row(database, ignored).error) == (
        "ignored",
        "not a feedstock",
    )
    assert (delivery_row(database, handled).status, delivery_row(database, handled).error) == (
        "handled",
        None,
    )


def test_settling_needs_the_claim_still_held(database: Database) -> None:
    job_id = enqueue(database)
    job = claim_one(database, worker="w1")
    with database.session() as session:
        assert queue.release(session, [job]) == 1
    other = claim_one(database, worker="w2")

    with database.session() as session:
        assert queue.complete(session, job) is False
        assert queue.fail(session, job, error="boom") is None
        assert queue.reschedule(session, job, at=datetime.now(UTC), reason="later") is False

    row = job_row(database, job_id)
    assert (row.status, row.locked_by, row.attempts) == ("running", "w2", other.attempt)


def test_fail_retries_with_backoff_and_keeps_the_attempt(database: Database) -> None:
    job_id = enqueue(database)
    job = claim_one(database)
    backoff = Backoff(base_seconds=60, jitter=0.5)

    before = datetime.now(UTC)
    with database.session() as session:
        outcome = queue.fail(session, job, error="ValueError: boom", backoff=backoff)

    assert isinstance(outcome, queue.Retry)
    row = job_row(database, job_id)
    assert (row.status, row.attempts, row.last_error, row.locked_by) == (
        "queued",
        1,
        "ValueError: boom",
        None,
    )
    assert before + timedelta(seconds=30) <= row.run_after <= before + timedelta(seconds=61)
    assert row.run_after == outcome.at


def test_failed_after_max_attempts_with_last_error(database: Database) -> None:
    delivery_id = insert_delivery(database)
    job_id = enqueue(database, delivery_id=delivery_id, max_attempts=3)
    no_wait = Backoff(base_seconds=0)

    outcomes = []
    for attempt in range(1, 4):
        job = claim_one(database)
        assert job.attempt == attempt
        with database.session() as session:
            outcomes.append(queue.fail(session, job, error=f"boom {attempt}", backoff=no_wait))

    assert [type(outcome) for outcome in outcomes] == [queue.Retry, queue.Retry, queue.GaveUp]
    row = job_row(database, job_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "boom 3")
    assert row.finished_at is not None
    assert claim(database) == []
    delivery = delivery_row(database, delivery_id)
    assert (delivery.status, delivery.error) == ("failed", "boom 3")


def test_permanent_failure_fails_at_once(database: Database) -> None:
    job_id = enqueue(database, max_attempts=5)
    job = claim_one(database)

    with database.session() as session:
        outcome = queue.fail(session, job, error="bad payload", retry=False)

    assert outcome == queue.GaveUp("bad payload")
    assert (job_row(database, job_id).status, job_row(database, job_id).attempts) == ("failed", 1)


def test_reschedule_does_not_count_the_attempt(database: Database) -> None:
    job_id = enqueue(database, max_attempts=1)
    reset = datetime.now(UTC) + timedelta(minutes=7)

    for _ in range(3):
        make_due(database, job_id)
        job = claim_one(database)
        assert job.attempt == 1
        with database.session() as session:
            assert queue.reschedule(session, job, at=reset, reason="rate limited")

    row = job_row(database, job_id)
    assert (row.status, row.attempts, row.run_after, row.last_error) == (
        "queued",
        0,
        reset,
        "rate limited",
    )


def test_release_gives_the_job_back_untouched(database: Database) -> None:
    job_id = enqueue(database)
    job = claim_one(database)

    with database.session() as session:
        assert queue.release(session, [job]) == 1

    row = job_row(database, job_id)
    assert (row.status, row.attempts, row.locked_by, row.locked_until) == ("queued", 0, None, None)
    assert claim_one(database).attempt == 1


def test_expired_lease_is_recovered_and_claimed_again(database: Database) -> None:
    job_id = enqueue(database)
    claim_one(database, worker="dead-worker", lease=timedelta(milliseconds=200))
    with database.session() as session:
        assert queue.recover_expired(session) == []  # lease still running

    time.sleep(0.3)
    with database.session() as session:
        assert queue.recover_expired(session) == [job_id]

    row = job_row(database, job_id)
    assert row.status == "queued"
    assert row.last_error == "lease expired on attempt 1: worker dead-worker was lost"
    again = claim_one(database, worker="w2")
    assert (again.id, again.attempt) == (job_id, 2)


def test_renewed_lease_is_not_recovered(database: Database) -> None:
    job_id = enqueue(database)
    job = claim_one(database, worker="w1", lease=timedelta(milliseconds=300))

    for _ in range(3):
        time.sleep(0.15)
        with database.session() as session:
            held = queue.renew_leases(
                session, worker="w1", job_ids=[job.id], lease=timedelta(milliseconds=300)
            )
            assert held == {job_id}
            assert queue.recover_expired(session) == []
    with database.session() as session:
        assert queue.renew_leases(session, worker="w2", job_ids=[job_id], lease=LEASE) == set()


def test_seconds_until_due(database: Database) -> None:
    with database.session() as session:
        assert queue.seconds_until_due(session) is None
    enqueue(database, run_after=datetime.now(UTC) + timedelta(seconds=40))
    with database.session() as session:
        assert 38 < queue.seconds_until_due(session) <= 40  # type: ignore[operator]
    enqueue(database)
    claim_one(database, lease=timedelta(seconds=10))
    with database.session() as session:
        assert 8 < queue.seconds_until_due(session) <= 10  # type: ignore[operator]


def test_periodic_chain_has_one_live_run_and_continues_after_each(database: Database) -> None:
    with database.session() as session:
        first = queue.ensure_periodic(session, kind="tick")
        assert queue.ensure_periodic(session, kind="tick") is None
    assert first is not None
    every = timedelta(minutes=10)

    job = claim_one(database)
    with database.session() as session:
        assert queue.ensure_periodic(session, kind="tick") is None  # running counts as live
        assert queue.complete(session, job, repeat_every=every)

    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, status, dedupe_key, run_after FROM job ORDER BY id")
        ).all()
    assert [(r.status, r.dedupe_key) for r in rows] == [
        ("succeeded", "periodic:tick"),
        ("queued", "periodic:tick"),
    ]
    assert timedelta(minutes=9) < rows[1].run_after - datetime.now(UTC) <= every


def test_periodic_chain_survives_a_final_failure(database: Database) -> None:
    with database.session() as session:
        queue.ensure_periodic(session, kind="tick", max_attempts=1)
    job = claim_one(database)

    with database.session() as session:
        outcome = queue.fail(session, job, error="boom", repeat_every=timedelta(minutes=1))

    assert isinstance(outcome, queue.GaveUp)
    with database.engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM job ORDER BY id")).scalars().all()
    assert statuses == ["failed", "queued"]


@pytest.mark.parametrize(("kind", "max_attempts"), [("", 5), ("noop", 0)])
def test_enqueue_refuses_invalid_jobs(database: Database, kind: str, max_attempts: int) -> None:
    with database.session() as session, pytest.raises(ValueError):
        queue.enqueue(session, kind=kind, payload={}, max_attempts=max_attempts)


def test_complete_many_settles_only_the_claims_still_held(database: Database) -> None:
    for _ in range(3):
        enqueue(database)
    jobs = claim(database, worker="w1", limit=3)
    with database.session() as session:
        queue.release(session, [jobs[0]])
    claim_one(database, worker="w2")

    with database.session() as session:
        done = queue.complete_many(session, jobs)

    assert done == {jobs[1].id, jobs[2].id}
    assert [job_row(database, job.id).status for job in jobs] == [
        "running",
        "succeeded",
        "succeeded",
    ]
