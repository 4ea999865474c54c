from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def samples(client: TestClient) -> dict[tuple[str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, s.labels.get("status", "")): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_report_queue_depth_from_the_job_table(
    client: TestClient, database_url: str
) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO job (kind, run_after) VALUES ('a', now() - interval '30 seconds'), "
                "('b', now()), ('later', now() + interval '1 hour')"
            )
        )
    engine.dispose()

    values = samples(client)

    assert values[("pfo_jobs", "queued")] == 2  # the job due in an hour is not counted
    assert values[("pfo_jobs", "running")] == 0
    assert values[("pfo_jobs_oldest_due_seconds", "queued")] >= 29
