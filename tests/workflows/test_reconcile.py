"""Reconciliation end to end: timed-out, lost and never-dispatched runs; local bake logs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.reconcile_runs import RECONCILE_RUNS
from tests.fake_github import FakeGitHub
from tests.fake_runner import FakeRunner, install_fake_runner
from tests.workflows.harness import HEAD_SHA, MAINTAINER, Harness, build_harness, make_settings
from tests.workflows.test_slash_commands import comment, opened

pytestmark = pytest.mark.anyio


def run_of(harness: Harness, recipe_id: str) -> Any:
    return next(r for r in harness.runs() if r.recipe_id == recipe_id)


def force(harness: Harness, run_id: int, assignments: str) -> None:
    """Put the run in a state the service could be left in (restart, lost dispatch)."""
    with harness.database.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE recipe_run SET {assignments} WHERE id = :id"), {"id": run_id})


async def reconcile(harness: Harness) -> list[tuple[str, str]]:
    """Run a reconciliation pass now (the periodic chain's next one, brought forward)."""
    with harness.database.session() as session:
        queue.enqueue(session, kind=RECONCILE_RUNS, payload={})
    harness.make_due()
    return await harness.work()


async def test_a_run_in_progress_past_its_limit_is_completed_timed_out(harness: Harness) -> None:
    await opened(harness)
    ok = run_of(harness, "ok")
    # In progress for 7 hours; the bakery allows 6.
    force(
        harness,
        ok.id,
        "status = 'in_progress', requested_by = 'maintainer', "
        "updated_at = now() - interval '7 hours'",
    )

    ran = await reconcile(harness)

    assert (RECONCILE_RUNS, "succeeded") in ran
    ok = run_of(harness, "ok")
    assert (ok.status, ok.conclusion) == ("completed", "timed_out")
    assert "limit of 21600 seconds" in ok.message
    assert ok.completed_at is not None
    # Settled once: a second pass finds nothing to do.
    ran = await reconcile(harness)
    assert {kind for kind, _ in ran} == {RECONCILE_RUNS}


async def test_a_local_bake_lost_in_a_restart_is_failed_with_the_rerun_hint(
    harness: Harness,
) -> None:
    await opened(harness)
    crash = run_of(harness, "crash")
    # Started 5 minutes ago by a process that is gone: this worker's bakery never saw it.
    force(
        harness,
        crash.id,
        "status = 'in_progress', requested_by = 'maintainer', "
        "updated_at = now() - interval '5 minutes'",
    )

    await reconcile(harness)

    crash = run_of(harness, "crash")
    assert (crash.status, crash.conclusion) == ("completed", "failure")
    assert crash.message == (
        "the service restarted while this run was baking; re-run it with /run crash"
    )


async def test_a_requested_run_that_was_never_dispatched_is_dispatched_and_bakes(
    harness: Harness,
) -> None:
    await opened(harness)
    ok = run_of(harness, "ok")
    # /run was recorded, but its dispatch job was lost (never written).
    force(
        harness,
        ok.id,
        "requested_by = 'maintainer', created_at = now() - interval '10 minutes'",
    )

    ran = await reconcile(harness)

    assert ("dispatch_run", "succeeded") in ran
    ok = run_of(harness, "ok")
    assert (ok.status, ok.conclusion) == ("completed", "success")
    # The runs nobody asked for stay queued, awaiting a maintainer.
    assert run_of(harness, "crash").status == "queued"


async def test_a_local_bake_output_is_kept_as_the_run_logs(harness: Harness) -> None:
    repo = await opened(harness)
    comment(harness, repo, "/run crash")
    await harness.work()
    crash = run_of(harness, "crash")

    response = harness.client.get(f"/recipe_runs/{crash.id}/logs")

    assert response.status_code == 200
    assert "ValueError: boom" in response.text
    assert (harness.settings.data_dir / "run-logs" / f"{crash.id}.log").exists()


LEAK_META = """\
title: Leaky
recipes:
  - id: leak
    object: "recipe:recipe"
bakery:
  id: local
"""
LEAKY_BAKERIES = """\
bakeries:
  local:
    region: local
    description: A bakery whose storage needs a token
    kind: local
    runner_config:
      TargetStorage:
        fsspec_class: fsspec.implementations.local.LocalFileSystem
        fsspec_args: {{token: "${{TEST_TOKEN}}"}}
    env: {{BAKERY_TOKEN: "${{TEST_TOKEN}}"}}
    target_root: "{root}/{{subpath}}"
    public_url: "https://data.example/{{subpath}}"
"""
TOKEN = "test-token-value-never-shown"


@dataclass
class TokenRunner(FakeRunner):
    """The fake runner, with the bakery's token in the service's environment."""

    @property
    def environ(self) -> dict[str, str]:
        return super().environ | {"TEST_TOKEN": TOKEN}


@pytest.fixture
def leaky(fake_github: FakeGitHub, database_url: str, tmp_path: Path) -> Iterator[Harness]:
    runner = TokenRunner(install_fake_runner(tmp_path).path)
    settings = make_settings(fake_github, database_url=database_url, runner=runner, tmp=tmp_path)
    assert settings.bakeries_file is not None
    settings.bakeries_file.write_text(LEAKY_BAKERIES.format(root=tmp_path / "outputs"))
    database = Database.from_url(database_url)
    try:
        with TestClient(create_app(settings, database=database)) as client:
            yield build_harness(
                fake_github, settings=settings, database=database, client=client, runner=runner
            )
    finally:
        database.dispose()


async def test_a_bakery_secret_printed_by_a_bake_never_reaches_the_served_logs(
    leaky: Harness,
) -> None:
    repo = leaky.add_feedstock()
    repo.permissions[MAINTAINER] = "write"
    leaky.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": LEAK_META})
    leaky.deliver("pull_request", leaky.pull_request_payload("opened", repo, 7))
    await leaky.work()
    comment(leaky, repo, "/run leak")
    await leaky.work()
    leak = run_of(leaky, "leak")
    assert (leak.status, leak.conclusion) == ("completed", "success")

    response = leaky.client.get(f"/recipe_runs/{leak.id}/logs")

    assert response.status_code == 200
    assert "the token is ***" in response.text
    assert "and in the env: ***" in response.text
    assert TOKEN not in response.text
