"""The inbox write path: deliveries with their jobs in one statement, batched by the writer."""

from __future__ import annotations

import asyncio
import select
import time

import psycopg2  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.webhooks.inbox import (
    InboundDelivery,
    enqueue_handling,
    store_deliveries,
    store_delivery,
)
from pangeo_forge_orchestrator.webhooks.writer import DeliveryWriter
from tests.webhooks.helpers import stored


def inbound(guid: str, payload_json: str = '{"zen": "hi"}') -> InboundDelivery:
    return InboundDelivery(
        guid=guid,
        event="ping",
        action=None,
        installation_id=None,
        repository=None,
        payload_json=payload_json,
    )


JOB_COLUMNS = "kind, payload, status, attempts, max_attempts, dedupe_key, locked_until, last_error"


def test_the_inlined_job_is_the_one_queue_enqueue_writes(database: Database) -> None:
    assert store_delivery(database, inbound("fast"))
    assert store_delivery(database, inbound("slow"))
    with database.session() as session:
        # Queue "slow" again through the queue's own enqueue instead of the inlined insert.
        session.execute(sa.text("DELETE FROM job WHERE dedupe_key = 'delivery:slow'"))
        slow_id = session.execute(
            sa.text("SELECT id FROM delivery WHERE guid = 'slow'")
        ).scalar_one()
        assert enqueue_handling(session, delivery_id=slow_id, guid="slow") is not None

    with database.engine.connect() as conn:
        jobs = conn.execute(sa.text(f"SELECT delivery_id, {JOB_COLUMNS} FROM job ORDER BY id"))
        fast, slow = (dict(row) for row in jobs.mappings())

    def generic(job: dict[str, object], guid: str) -> dict[str, object]:
        """The job with what names its delivery swapped for placeholders."""
        assert job["payload"] == {"delivery_id": job["delivery_id"]}
        assert job["dedupe_key"] == f"delivery:{guid}"
        return {**job, "delivery_id": "D", "payload": "P", "dedupe_key": "K"}

    assert generic(fast, "fast") == generic(slow, "slow")
    assert fast["kind"] == "handle_delivery"


def test_a_stored_delivery_notifies_the_workers_and_a_duplicate_does_not(
    database: Database, database_url: str
) -> None:
    listener = psycopg2.connect(database_url.replace("postgresql+psycopg2://", "postgresql://"))
    listener.autocommit = True
    listener.cursor().execute(f"LISTEN {queue.NOTIFY_CHANNEL}")

    def notifications(wait: float) -> int:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            select.select([listener], [], [], 0.05)
            listener.poll()
        count = len(listener.notifies)
        listener.notifies.clear()
        return count

    try:
        store_delivery(database, inbound("one"))
        first = notifications(0.5)
        store_delivery(database, inbound("one"))
        again = notifications(0.3)
    finally:
        listener.close()

    assert (first, again) == (1, 0)


def test_a_guid_twice_in_one_batch_is_stored_and_queued_once(database: Database) -> None:
    new = store_deliveries(database, [inbound("a"), inbound("b"), inbound("a"), inbound("c")])
    later = store_deliveries(database, [inbound("c"), inbound("d")])

    rows = stored(database)
    assert (new, later) == ({"a", "b", "c"}, {"d"})
    assert [row.guid for row in rows.deliveries] == ["a", "b", "c", "d"]
    assert [job.dedupe_key for job in rows.jobs] == [f"delivery:{g}" for g in "abcd"]


def test_the_writer_batches_concurrent_deliveries_and_answers_each(database: Database) -> None:
    guids = [f"g{i}" for i in range(200)] + ["g0", "g1"]

    async def store_all() -> list[bool]:
        writer = DeliveryWriter(database)
        try:
            return await asyncio.gather(*(writer.store(inbound(g)) for g in guids))
        finally:
            writer.close()

    answers = asyncio.run(store_all())

    assert answers == [True] * 200 + [False, False]
    rows = stored(database)
    assert len(rows.deliveries) == len(rows.jobs) == 200
    # Batches share a transaction id: fewer transactions than deliveries means group commit.
    with database.engine.connect() as conn:
        transactions = conn.execute(
            sa.text("SELECT count(DISTINCT xmin::text) FROM delivery")
        ).scalar_one()
    assert transactions < 200


def test_one_bad_delivery_does_not_fail_its_batch(database: Database) -> None:
    async def store_batch() -> list[bool | BaseException]:
        writer = DeliveryWriter(database)
        try:
            return await asyncio.gather(
                *(writer.store(inbound(f"ok{i}")) for i in range(5)),
                writer.store(inbound("bad", payload_json="{not json")),
                *(writer.store(inbound(f"ok{i}")) for i in range(5, 10)),
                return_exceptions=True,
            )
        finally:
            writer.close()

    answers = asyncio.run(store_batch())

    assert answers[:5] == answers[6:] == [True] * 5
    assert isinstance(answers[5], sa.exc.DataError)
    assert sorted(row.guid for row in stored(database).deliveries) == sorted(
        f"ok{i}" for i in range(10)
    )


@pytest.mark.parametrize("count", [1, 3])
def test_store_deliveries_returns_nothing_new_for_known_guids(
    database: Database, count: int
) -> None:
    batch = [inbound(f"k{i}") for i in range(count)]
    store_deliveries(database, batch)

    assert store_deliveries(database, batch) == set()
    assert store_deliveries(database, []) == set()


def test_large_payloads_are_written_in_batches_within_the_byte_cap(database: Database) -> None:
    big = '{"blob": "' + "x" * (3 * 1024 * 1024) + '"}'

    async def store_three() -> list[bool]:
        writer = DeliveryWriter(database)
        try:
            return await asyncio.gather(*(writer.store(inbound(f"big{i}", big)) for i in range(3)))
        finally:
            writer.close()

    assert asyncio.run(store_three()) == [True, True, True]
    with database.engine.connect() as conn:
        transactions = conn.execute(
            sa.text("SELECT count(DISTINCT xmin::text) FROM delivery")
        ).scalar_one()
    # 3 MB each against a 4 MB cap: no two share a statement.
    assert transactions == 3
