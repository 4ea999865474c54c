"""Group commit for the webhook inbox (DESIGN §3).

One durable commit per delivery caps ingest at the disk's commit rate. Instead, deliveries that
arrive while a write is in flight wait for the next one and are written together: one statement
and one commit for the whole batch (inbox.store_deliveries). Each request is answered only once
its own batch has committed, so an acknowledged delivery survives a crash; at low load a batch
is a single delivery written at once, with no timer to wait for.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.webhooks.inbox import InboundDelivery, store_deliveries

log = logging.getLogger(__name__)

# A second write starts only while more than a full batch waits behind the first: at ordinary
# load one write in flight gathers the most deliveries per commit; under a backlog two keep
# the database busy.
MAX_WRITES_IN_FLIGHT = 2
# A batch ends at 16 deliveries or 4 MB of payload (a single delivery may reach 25 MB): enough
# to amortise a commit, and small enough that under a backlog the second write starts and two
# Postgres backends parse and store payloads at once (16: 744-815 deliveries/s at 32
# connections against 572-762 with 64, same minutes; docs/benchmarks.md).
MAX_BATCH = 16
MAX_BATCH_BYTES = 4 * 1024 * 1024


class DeliveryWriter:
    """Store deliveries in batches on behalf of the requests of one event loop."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.loop = asyncio.get_running_loop()
        self._pending: list[tuple[InboundDelivery, asyncio.Future[bool]]] = []
        self._in_flight = 0
        self._start_scheduled = False
        # Our own threads: the request path never queues behind the sync routes' thread pool.
        self._executor = ThreadPoolExecutor(MAX_WRITES_IN_FLIGHT, thread_name_prefix="pfo-inbox")

    async def store(self, inbound: InboundDelivery) -> bool:
        """Store a delivery with its job; True if new, False if its GUID was stored before."""
        future: asyncio.Future[bool] = self.loop.create_future()
        self._pending.append((inbound, future))
        if not self._start_scheduled:
            # Start on the next turn of the loop, so that deliveries arriving in this one
            # (requests woken together) join the same batch.
            self._start_scheduled = True
            self.loop.call_soon(self._start_writes)
        return await future

    def close(self) -> None:
        self._executor.shutdown(wait=False)

    def _start_writes(self) -> None:
        self._start_scheduled = False
        while self._pending and (
            self._in_flight == 0
            or (self._in_flight < MAX_WRITES_IN_FLIGHT and self._batch_size() < len(self._pending))
        ):
            batch = self._pending[: self._batch_size()]
            del self._pending[: len(batch)]
            self._in_flight += 1
            task = self.loop.create_task(self._write(batch))
            task.add_done_callback(self._finished)

    def _batch_size(self) -> int:
        """How many pending deliveries the next batch takes: at least one, within the caps."""
        size, count = 0, 0
        for inbound, _ in self._pending[:MAX_BATCH]:
            size += len(inbound.payload_json)
            if count and size > MAX_BATCH_BYTES:
                break
            count += 1
        return count

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight -= 1
        self._start_writes()

    async def _write(self, batch: list[tuple[InboundDelivery, asyncio.Future[bool]]]) -> None:
        deliveries = [inbound for inbound, _ in batch]
        try:
            stored = await self.loop.run_in_executor(
                self._executor, store_deliveries, self.database, deliveries
            )
        except Exception as exc:
            if len(batch) > 1:
                # One bad delivery must not fail its neighbours: write each on its own.
                log.warning("batch write failed; writing one by one", exc_info=exc)
                await asyncio.gather(*(self._write([item]) for item in batch))
                return
            _settle(batch[0][1], exc)
            return
        answered: set[str] = set()
        for inbound, future in batch:
            # The same GUID twice in one batch: the first is new, the second a duplicate.
            new = inbound.guid in stored and inbound.guid not in answered
            answered.add(inbound.guid)
            _settle(future, new)


def _settle(future: asyncio.Future[bool], outcome: bool | Exception) -> None:
    # A request whose client went away has cancelled its future; its delivery is stored anyway.
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
