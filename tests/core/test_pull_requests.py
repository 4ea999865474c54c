import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    CancelRun,
    CompleteCheckRun,
    CreateCheckRun,
    ExpandMeta,
    QueueTestRun,
    RecordFeedstock,
    Skip,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import (
    LayoutViolation,
    MetaLocation,
    RecipeFolder,
    staged_recipe_folder,
)
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.meta import (
    DictObjectSpec,
    FeedstockMeta,
    InvalidMeta,
    RecipeSpec,
)
from pangeo_forge_orchestrator.core.policy import Policy
from pangeo_forge_orchestrator.core.pull_requests import (
    SKIP_ACTION,
    SKIP_TITLE,
    PullRequestFacts,
    begin_sync,
    finish_sync,
)
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion, RunStatus

REPO = RepositoryRef(owner="pangeo-forge", name="noaa-oisst-feedstock")
SHA, OLD = "b" * 40, "a" * 40
LINKS = Links(
    dashboard_url="https://pangeo-forge.org/dashboard/", public_url="https://api.example.org"
)
META = FeedstockMeta(
    recipes=(RecipeSpec("a", "recipe:a"), RecipeSpec("b", "recipe:b")), bakery_id="local"
)
FEEDSTOCK = MetaLocation("feedstock")


def facts(**kw):
    base = dict(
        repo=REPO,
        action="synchronize",
        number=7,
        head_sha=SHA,
        title="Update recipe",
        draft=False,
        location=FEEDSTOCK,
        meta=META,
    )
    return PullRequestFacts(**(base | kw))


def run(run_id, recipe_id, *, sha=SHA, status=RunStatus.QUEUED, **kw):
    return RunRecord(
        id=run_id,
        feedstock_id=2,
        recipe_id=recipe_id,
        head_sha=sha,
        bakery="local",
        status=status,
        pr_number=7,
        **kw,
    )


def queued(recipe_id):
    return QueueTestRun(
        feedstock_spec=REPO.full_name,
        head_sha=SHA,
        recipe_id=recipe_id,
        bakery="local",
        pr_number=7,
    )


OPEN_CHECK = CreateCheckRun(
    head_sha=SHA,
    name=msg.SYNC_CHECK_NAME,
    external_id=f"pfo-sync:{SHA}",
    status="in_progress",
    title=msg.SYNC_IN_PROGRESS_TITLE,
    summary=msg.SYNC_IN_PROGRESS_SUMMARY.format(meta_path="feedstock/meta.yaml", sha=SHA),
)


def test_push_records_feedstock_opens_check_and_queues_a_test_run_per_recipe():
    assert begin_sync(facts()) == (
        RecordFeedstock(spec=REPO.full_name),
        OPEN_CHECK,
        queued("a"),
        queued("b"),
    )


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_sync_actions(action):
    assert not isinstance(begin_sync(facts(action=action)), Skip)


@pytest.mark.parametrize("action", ["closed", "labeled", "edited"])
def test_other_actions_are_skipped(action):
    assert begin_sync(facts(action=action)) == Skip(SKIP_ACTION.format(action=action))


@pytest.mark.parametrize("title", ["Cleanup noaa", "cleanup", "CLEANUP: remove x", "  cleanup x"])
def test_our_cleanup_prs_are_skipped(title):
    assert begin_sync(facts(title=title)) == Skip(SKIP_TITLE.format(title=title))


def test_a_title_mentioning_cleanup_later_is_not_skipped():
    assert not isinstance(begin_sync(facts(title="Add cleanup step")), Skip)


def test_redelivery_queues_only_recipes_not_yet_recorded_at_this_sha():
    effects = begin_sync(facts(runs_at_head=(run(1, "a"),)))
    assert [e for e in effects if isinstance(e, QueueTestRun)] == [queued("b")]


def test_redelivery_after_everything_was_recorded_queues_nothing():
    effects = begin_sync(facts(runs_at_head=(run(1, "a"), run(2, "b", status=RunStatus.COMPLETED))))
    assert not any(isinstance(e, QueueTestRun) for e in effects)


def test_draft_gets_the_check_but_no_runs():
    assert begin_sync(facts(draft=True)) == (RecordFeedstock(spec=REPO.full_name), OPEN_CHECK)


def test_policy_can_queue_runs_for_drafts():
    effects = begin_sync(facts(draft=True), policy=Policy(queue_runs_for_drafts=True))
    assert queued("a") in effects


def test_invalid_meta_opens_the_check_and_queues_nothing():
    effects = begin_sync(facts(meta=InvalidMeta(("bad",))))
    assert effects == (RecordFeedstock(spec=REPO.full_name), OPEN_CHECK)


def test_dict_object_recipes_are_expanded_in_a_job_first():
    meta = FeedstockMeta(recipes=(DictObjectSpec("recipe:recipes"),), bakery_id="local")
    effects = begin_sync(facts(meta=meta))
    assert effects[1].summary == msg.SYNC_EXPANDING_SUMMARY.format(meta_path="feedstock/meta.yaml")
    assert effects[2:] == (
        ExpandMeta(
            feedstock_spec=REPO.full_name, head_sha=SHA, feedstock_subdir="feedstock", pr_number=7
        ),
    )


def test_a_new_push_cancels_the_prs_active_runs_at_older_shas():
    older = (
        run(1, "a", sha=OLD),
        run(2, "b", sha=OLD, status=RunStatus.IN_PROGRESS, check_run_id=44, requested_by="m"),
        run(3, "a", sha=OLD, status=RunStatus.COMPLETED, conclusion=RunConclusion.SUCCESS),
    )
    effects = begin_sync(facts(older_active_runs=older))
    reason = msg.CANCEL_REASON_SUPERSEDED.format(new_sha=SHA)
    assert effects[2:5] == (
        CancelRun(run_id=1, reason=reason),
        CancelRun(run_id=2, reason=reason),
        CompleteCheckRun(
            check_run_id=44,
            conclusion=RunConclusion.CANCELLED,
            title=msg.SUPERSEDED_TITLE,
            summary=msg.SUPERSEDED_SUMMARY.format(new_sha=SHA, sha=OLD),
        ),
    )
    assert effects[5:] == (queued("a"), queued("b"))


def test_superseded_runs_are_cancelled_even_when_the_new_meta_is_invalid():
    effects = begin_sync(facts(meta=InvalidMeta(("x",)), older_active_runs=(run(1, "a", sha=OLD),)))
    assert CancelRun(run_id=1, reason=msg.CANCEL_REASON_SUPERSEDED.format(new_sha=SHA)) in effects


def test_policy_can_keep_superseded_runs():
    effects = begin_sync(
        facts(older_active_runs=(run(1, "a", sha=OLD),)),
        policy=Policy(cancel_superseded_runs=False),
    )
    assert not any(isinstance(e, CancelRun) for e in effects)


def test_staged_recipes_layout_violation_opens_the_check_only():
    violation = staged_recipe_folder(["README.md", "recipes/x/meta.yaml"])
    effects = begin_sync(facts(location=violation, meta=None))
    assert [type(e) for e in effects] == [RecordFeedstock, CreateCheckRun]


def test_staged_recipe_runs_from_its_folder():
    location = MetaLocation("recipes/x", RecipeFolder("x"))
    meta = FeedstockMeta(
        recipes=(RecipeSpec("x", "recipe:r"), DictObjectSpec("recipe:d")), bakery_id="local"
    )
    effects = begin_sync(facts(location=location, meta=meta))
    assert effects[-1] == ExpandMeta(
        feedstock_spec=REPO.full_name, head_sha=SHA, feedstock_subdir="recipes/x", pr_number=7
    )


# -- finish_sync --------------------------------------------------------------------------------
def test_success_lists_every_recipe_run_with_its_link():
    done = facts(
        runs_at_head=(run(10, "a"), run(11, "b"), run(12, "b", status=RunStatus.IN_PROGRESS))
    )
    result = finish_sync(done, check_run_id=5, links=LINKS)
    assert result == CompleteCheckRun(
        check_run_id=5,
        conclusion=RunConclusion.SUCCESS,
        title=msg.SYNC_SUCCESS_TITLE.format(count=2),
        summary=(
            msg.SYNC_SUCCESS_SUMMARY.format(sha=SHA)
            + "\n\n- `a`: https://pangeo-forge.org/dashboard/recipe-run/10?feedstock_id=2"
            + " (queued)\n- `b`: https://pangeo-forge.org/dashboard/recipe-run/12?feedstock_id=2"
            + " (in_progress)"
        ),
    )


def test_failure_summary_lists_the_meta_problems():
    problems = (
        "`meta.yaml` is not valid YAML (line 3, column 5): oops.",
        "Recipe ids must be unique; repeated: `a`.",
    )
    result = finish_sync(facts(meta=InvalidMeta(problems)), check_run_id=5, links=LINKS)
    assert result.conclusion is RunConclusion.FAILURE
    assert result.title == msg.SYNC_FAILURE_TITLE
    assert result.summary == (
        msg.SYNC_FAILURE_SUMMARY.format(meta_path="feedstock/meta.yaml", sha=SHA)
        + "\n\n- "
        + problems[0]
        + "\n- "
        + problems[1]
        + "\n\n"
        + msg.SYNC_FAILURE_FOOTER
    )


def test_missing_meta_fails_the_check_naming_the_path():
    result = finish_sync(facts(meta=None), check_run_id=5, links=LINKS)
    assert msg.META_MISSING.format(path="feedstock/meta.yaml") in result.summary


def test_layout_violation_fails_the_check_with_the_rule():
    violation = LayoutViolation((msg.LAYOUT_SEVERAL_FOLDERS.format(count=2, names="a, b"),))
    result = finish_sync(facts(location=violation, meta=None), check_run_id=5, links=LINKS)
    assert result == CompleteCheckRun(
        check_run_id=5,
        conclusion=RunConclusion.FAILURE,
        title=msg.SYNC_LAYOUT_TITLE,
        summary=f"{msg.LAYOUT_RULE}\n\n- {violation.problems[0]}",
    )


def test_draft_check_succeeds_and_says_runs_wait_for_review():
    result = finish_sync(facts(draft=True), check_run_id=5, links=LINKS)
    assert result.title == msg.SYNC_DRAFT_TITLE
    assert result.summary == msg.SYNC_DRAFT_SUMMARY.format(
        meta_path="feedstock/meta.yaml", sha=SHA, ids="`a`, `b`"
    )


def test_check_stays_in_progress_while_recipes_are_expanded():
    meta = FeedstockMeta(recipes=(DictObjectSpec("recipe:recipes"),), bakery_id="local")
    assert finish_sync(facts(meta=meta), check_run_id=5, links=LINKS) is None


def test_huge_summaries_fit_githubs_limit():
    problems = tuple("p" * 1000 for _ in range(100))
    result = finish_sync(facts(meta=InvalidMeta(problems)), check_run_id=5, links=LINKS)
    assert len(result.summary) == msg.CHECK_SUMMARY_LIMIT
    assert result.summary.endswith("(truncated)")


def test_draft_with_dict_object_recipes_completes_without_expanding():
    meta = FeedstockMeta(recipes=(DictObjectSpec("recipe:recipes"),), bakery_id="local")
    assert not any(isinstance(e, ExpandMeta) for e in begin_sync(facts(draft=True, meta=meta)))
    result = finish_sync(facts(draft=True, meta=meta), check_run_id=5, links=LINKS)
    assert msg.DRAFT_IDS_PENDING in result.summary
