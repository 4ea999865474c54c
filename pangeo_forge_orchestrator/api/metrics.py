"""`GET /metrics`: Prometheus text for operators (queue depth, GitHub quota, process)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.concurrency import run_in_threadpool

from pangeo_forge_orchestrator.api.deps import DatabaseDep
from pangeo_forge_orchestrator.db.engine import Database

router = APIRouter(tags=["public"])

# Live jobs only: both counts are served by the job table's partial indexes, whatever the
# number of finished jobs kept for history.
QUEUE_DEPTH_SQL = sa.text(
    """
    SELECT status::text, count(*), coalesce(extract(epoch FROM now() - min(run_after)), 0)
    FROM job WHERE status IN ('queued', 'running') AND run_after <= now()
    GROUP BY status
    """
)


def queue_metrics(database: Database) -> list[GaugeMetricFamily]:
    depth = GaugeMetricFamily("pfo_jobs", "Jobs due now, by status", labels=["status"])
    oldest = GaugeMetricFamily(
        "pfo_jobs_oldest_due_seconds", "Age of the oldest due job, by status", labels=["status"]
    )
    rows = {status: (0, 0.0) for status in ("queued", "running")}
    with database.engine.connect() as conn:
        for status, count, age in conn.execute(QUEUE_DEPTH_SQL):
            rows[status] = (count, float(age))
    for status, (count, age) in rows.items():
        depth.add_metric([status], count)
        oldest.add_metric([status], age)
    return [depth, oldest]


def render_metrics(database: Database) -> bytes:
    text = generate_latest(REGISTRY)
    for family in queue_metrics(database):
        # Rendered per scrape from the database; not registered, so other processes' registries
        # (the worker's) never report a stale copy.
        text += _render(family)
    return text


def _render(family: GaugeMetricFamily) -> bytes:
    lines = [f"# HELP {family.name} {family.documentation}", f"# TYPE {family.name} gauge"]
    for sample in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
        lines.append(f"{sample.name}{{{labels}}} {sample.value}")
    return ("\n".join(lines) + "\n").encode()


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(database: DatabaseDep) -> Response:
    body = await run_in_threadpool(render_metrics, database)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
