"""Job kind `redeliver_missed_deliveries`: ask GitHub again for webhooks we never received.

GitHub never retries a failed delivery by itself. Every 10 minutes (and when the worker starts;
one live instance across replicas, see registry.py) this pages the App's delivery log for the
last 3 days and requests a redelivery of each failed delivery whose GUID our inbox lacks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col

from pangeo_forge_orchestrator.adapters.github import GitHubApp, RateLimited
from pangeo_forge_orchestrator.adapters.github.deliveries import find_missed_deliveries, redeliver
from pangeo_forge_orchestrator.core.redelivery import REDELIVERY_WINDOW
from pangeo_forge_orchestrator.db.tables import Delivery
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import (
    JobContext,
    PermanentFailure,
    RetryLater,
    job_handler,
)

log = logging.getLogger(__name__)

KIND = "redeliver_missed_deliveries"
EVERY = timedelta(minutes=10)
# Bound the IN (...) list of one query; three days of failures rarely reach this.
GUID_LOOKUP_CHUNK = 1000
GITHUB_NOT_WIRED = "the GitHub App is configured but this worker was given no GitHub client"


def stored_guids(session: Session, guids: Sequence[str]) -> set[str]:
    """The GUIDS our inbox holds."""
    found: set[str] = set()
    for start in range(0, len(guids), GUID_LOOKUP_CHUNK):
        chunk = list(guids[start : start + GUID_LOOKUP_CHUNK])
        guid = col(Delivery.guid)
        found.update(session.scalars(sa.select(guid).where(guid.in_(chunk))))
    return found


@job_handler(KIND, every=EVERY)
async def redeliver_missed_deliveries(ctx: JobContext, job: ClaimedJob) -> None:
    """Request a redelivery of every failed delivery of the last 3 days we never stored."""
    github = ctx.github
    if github is None:
        if not ctx.settings.github_app_configured:
            log.info("missed-delivery recovery skipped: the GitHub App is not configured")
            return
        raise PermanentFailure(GITHUB_NOT_WIRED)
    if not isinstance(github, GitHubApp):
        raise PermanentFailure(GITHUB_NOT_WIRED)
    app_client = github.app_client()

    async def known(guids: Sequence[str]) -> set[str]:
        return await ctx.in_session(lambda session: stored_guids(session, guids))

    try:
        missed = await find_missed_deliveries(
            app_client, since=datetime.now(UTC) - REDELIVERY_WINDOW, known_guids=known
        )
        report = await redeliver(app_client, missed)
    except RateLimited as limited:
        raise RetryLater(limited.reset_at, str(limited)) from limited
    log.info(
        "missed deliveries redelivered",
        extra={
            "job_id": job.id,
            "missed": len(missed),
            "requested": len(report.requested),
            "refused": len(report.refused),
        },
    )
