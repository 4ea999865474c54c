"""pull_request opened / synchronize / reopened / ready_for_review on a feedstock."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pangeo_forge_orchestrator.core import messages as msg
from tests.workflows.harness import FEEDSTOCK, HEAD_SHA, META, NEW_SHA, STAGED, Harness

pytestmark = pytest.mark.anyio

CONTENTS = ("GET", "/repos/{owner}/{repo}/contents/{path}")
LIST_CHECKS = ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
CREATE_CHECK = ("POST", "/repos/{owner}/{repo}/check-runs")
UPDATE_CHECK = ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")


async def test_an_opened_pull_request_gets_a_check_and_queued_test_runs(harness: Harness) -> None:
    repo = harness.add_feedstock()
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")]
    assert harness.calls() == Counter(
        {CONTENTS: 1, LIST_CHECKS: 1, CREATE_CHECK: 1, UPDATE_CHECK: 1}
    )
    (check,) = repo.check_runs.values()
    assert check["head_sha"] == HEAD_SHA
    assert check["external_id"] == f"pfo-sync:{HEAD_SHA}"
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert check["output"]["title"] == msg.SYNC_SUCCESS_TITLE.format(count=2)
    runs = harness.runs()
    assert [(r.recipe_id, r.status, r.is_test, r.head_sha, r.pr_number) for r in runs] == [
        ("ok", "queued", True, HEAD_SHA, 7),
        ("crash", "queued", True, HEAD_SHA, 7),
    ]
    assert all(r.requested_by is None for r in runs)
    page = f"https://pangeo-forge.example/dashboard/recipe-run/{runs[0].id}?feedstock_id="
    assert page in check["output"]["summary"]
    assert [d.status for d in harness.deliveries()] == ["handled"]
    assert FEEDSTOCK in {row.spec for row in harness.feedstocks()}


async def test_a_redelivered_or_replayed_event_creates_nothing_twice(harness: Harness) -> None:
    repo = harness.add_feedstock()
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    payload = harness.pull_request_payload("opened", repo, 7)
    guid = harness.deliver("pull_request", payload)
    await harness.work()
    first_runs = [(r.id, r.recipe_id, r.status) for r in harness.runs()]
    harness.reset_calls()

    harness.deliver("pull_request", payload)  # GitHub's redelivery: a new GUID
    harness.replay(guid)  # an admin's replay: the same GUID
    ran = await harness.work()

    assert ran == [("handle_delivery", "succeeded")] * 2
    assert [(r.id, r.recipe_id, r.status) for r in harness.runs()] == first_runs
    assert len(repo.check_runs) == 1
    # Each handling reads meta.yaml, finds the sha's check and completes it again (a no-op).
    assert harness.calls() == Counter({CONTENTS: 2, LIST_CHECKS: 2, UPDATE_CHECK: 2})


async def test_a_push_cancels_the_older_shas_runs_and_closes_their_checks(
    harness: Harness,
) -> None:
    repo = harness.add_feedstock()
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    await harness.work()
    old_ok, old_crash = harness.runs()
    # As if `ok` had been started with /run: it has a check run of its own.
    harness.repo(FEEDSTOCK).check_runs[99] = {
        **repo.check_runs[next(iter(repo.check_runs))],
        "id": 99,
        "status": "in_progress",
        "conclusion": None,
    }
    with harness.database.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE recipe_run SET status = 'in_progress', github_check_run_id = 99 "
                "WHERE id = :id"
            ),
            {"id": old_ok.id},
        )
    harness.fake.add_pull(repo, 7, head_sha=NEW_SHA, files={"feedstock/meta.yaml": META})
    harness.reset_calls()

    harness.deliver("pull_request", harness.pull_request_payload("synchronize", repo, 7))
    await harness.work()

    runs = {(r.head_sha, r.recipe_id): r for r in harness.runs()}
    assert (runs[HEAD_SHA, "ok"].status, runs[HEAD_SHA, "ok"].conclusion) == (
        "completed",
        "cancelled",
    )
    assert runs[HEAD_SHA, "crash"].conclusion == "cancelled"
    assert runs[HEAD_SHA, "crash"].message == msg.CANCEL_REASON_SUPERSEDED.format(new_sha=NEW_SHA)
    assert (runs[NEW_SHA, "ok"].status, runs[NEW_SHA, "crash"].status) == ("queued", "queued")
    assert repo.check_runs[99]["conclusion"] == "cancelled"
    assert repo.check_runs[99]["output"]["title"] == msg.SUPERSEDED_TITLE
    assert harness.calls() == Counter(
        # meta.yaml; the new sha's check found-or-created and completed; the old run's check.
        {CONTENTS: 1, LIST_CHECKS: 1, CREATE_CHECK: 1, UPDATE_CHECK: 2}
    )
    assert old_crash.id in {r.id for r in harness.runs()}


@pytest.mark.parametrize(
    ("meta", "problem"),
    [
        ("recipes: [", "`meta.yaml` is not valid YAML (line 1, column 11)"),
        (META.replace("id: local", "id: elsewhere"), "Bakery `elsewhere` is not known here"),
        (META.replace("id: crash", "id: ok"), "Recipe ids must be unique; repeated: `ok`."),
        (None, "There is no `feedstock/meta.yaml` in this commit"),
    ],
    ids=["yaml", "unknown-bakery", "duplicate-ids", "missing"],
)
async def test_invalid_meta_fails_the_check_with_the_problem_and_records_no_run(
    harness: Harness, meta: str | None, problem: str
) -> None:
    repo = harness.add_feedstock()
    files: dict[str, str | bytes] = (
        {"feedstock/meta.yaml": meta} if meta is not None else {"feedstock/recipe.py": "x"}
    )
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files=files)

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    await harness.work()

    (check,) = repo.check_runs.values()
    assert (check["status"], check["conclusion"]) == ("completed", "failure")
    assert check["output"]["title"] == msg.SYNC_FAILURE_TITLE
    assert problem in check["output"]["summary"]
    assert harness.runs() == []


async def test_a_draft_gets_the_check_only_until_it_is_ready_for_review(harness: Harness) -> None:
    repo = harness.add_feedstock()
    pull = harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    pull["draft"] = True
    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    await harness.work()

    (check,) = repo.check_runs.values()
    assert (check["conclusion"], check["output"]["title"]) == ("success", msg.SYNC_DRAFT_TITLE)
    assert harness.runs() == []

    pull["draft"] = False
    harness.deliver("pull_request", harness.pull_request_payload("ready_for_review", repo, 7))
    await harness.work()

    assert [r.recipe_id for r in harness.runs()] == ["ok", "crash"]
    assert len(repo.check_runs) == 1
    assert repo.check_runs[check["id"]]["output"]["title"] == msg.SYNC_SUCCESS_TITLE.format(count=2)


async def test_our_own_cleanup_pull_requests_are_skipped_without_a_github_call(
    harness: Harness,
) -> None:
    repo = harness.add_feedstock()
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, title="Cleanup ocean")

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    await harness.work()

    assert harness.calls() == Counter()
    (delivery,) = harness.deliveries()
    assert (delivery.status, delivery.error) == (
        "ignored",
        "automated pull request ('Cleanup ocean') is skipped",
    )


async def test_a_staged_recipe_pr_is_checked_in_its_recipe_folder(harness: Harness) -> None:
    repo = harness.add_feedstock(STAGED)
    files: dict[str, str | bytes] = {
        "recipes/ocean/meta.yaml": META,
        "recipes/ocean/recipe.py": "recipe = 1\n",
    }
    harness.fake.add_pull(repo, 3, head_sha=HEAD_SHA, files=files)

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 3))
    await harness.work()

    (check,) = repo.check_runs.values()
    assert check["conclusion"] == "success"
    assert [(r.recipe_id, r.pr_number) for r in harness.runs()] == [("ok", 3), ("crash", 3)]
    read = [c for c in harness.fake.calls if c.template == CONTENTS[1]]
    assert [c.path_params["path"] for c in read] == ["recipes/ocean/meta.yaml"]


async def test_a_staged_recipe_pr_touching_other_files_fails_its_check(harness: Harness) -> None:
    repo = harness.add_feedstock(STAGED)
    files: dict[str, str | bytes] = {"recipes/ocean/meta.yaml": META, "README.md": "hello\n"}
    harness.fake.add_pull(repo, 3, head_sha=HEAD_SHA, files=files)

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 3))
    await harness.work()

    (check,) = repo.check_runs.values()
    assert (check["conclusion"], check["output"]["title"]) == ("failure", msg.SYNC_LAYOUT_TITLE)
    assert "It changes files outside recipes/: README.md." in check["output"]["summary"]
    assert harness.runs() == []
    assert CONTENTS not in harness.calls()


async def test_a_github_rate_limit_reschedules_the_delivery_at_the_reset(
    harness: Harness,
) -> None:
    repo = harness.add_feedstock()
    harness.fake.add_pull(repo, 7, head_sha=HEAD_SHA, files={"feedstock/meta.yaml": META})
    reset_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    harness.fake.primary_rate_limit(reset_at=reset_at, template=CONTENTS[1], method="GET")

    harness.deliver("pull_request", harness.pull_request_payload("opened", repo, 7))
    ran = await harness.work()

    assert ran == [("handle_delivery", "rescheduled")]
    (job,) = harness.jobs()
    assert (job.status, job.attempts, job.run_after) == ("queued", 0, reset_at)
    assert "rate limit" in job.last_error
    assert harness.runs() == []
