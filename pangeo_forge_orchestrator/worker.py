"""The worker: claim a job, run its handler, then succeed, retry or fail.

Until the job queue lands this worker only waits for work and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, *, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.stopping = asyncio.Event()

    def request_stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        log.info("worker started")
        await self.stopping.wait()
        log.info("worker stopped")
