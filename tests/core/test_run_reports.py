import ast

import pytest

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    AddReaction,
    CompleteCheckRun,
    CreateCheckRun,
    CreateDeployment,
    DispatchRun,
    PostComment,
    SetDeploymentStatus,
)
from pangeo_forge_orchestrator.core.links import Links
from pangeo_forge_orchestrator.core.run_reports import (
    MERGE_REQUESTER,
    launch_production_run,
    report_dispatch_failed,
    report_run_completed,
    report_test_run_started,
)
from pangeo_forge_orchestrator.core.runs import RunRecord
from pangeo_forge_orchestrator.core.vocabulary import DatasetType, RunConclusion, RunStatus

SHA = "e" * 40
LINKS = Links(
    dashboard_url="https://pangeo-forge.org/dashboard", public_url="https://api.example.org"
)
PAGE = "https://pangeo-forge.org/dashboard/recipe-run/21?feedstock_id=3"
LOGS = "https://api.example.org/recipe_runs/21/logs"
URL = "https://data.example.org/pangeo-forge/test/o/x-feedstock/recipe-run-21/a.zarr"


def run(**kw):
    base = dict(
        id=21,
        feedstock_id=3,
        recipe_id="a",
        head_sha=SHA,
        bakery="local",
        status=RunStatus.IN_PROGRESS,
        pr_number=7,
        check_run_id=55,
    )
    return RunRecord(**(base | kw))


def done(conclusion, **kw):
    return run(status=RunStatus.COMPLETED, conclusion=conclusion, **kw)


def test_start_reacts_rocket_and_opens_a_check_run_linking_the_run_page():
    assert report_test_run_started(run(check_run_id=None), comment_id=900, links=LINKS) == (
        AddReaction(comment_id=900, content="rocket"),
        CreateCheckRun(
            head_sha=SHA,
            name="Recipe run: a",
            external_id="pfo-recipe-run:21",
            status="in_progress",
            title=msg.RUN_CHECK_TITLE_STARTED.format(recipe_id="a", kind=msg.RUN_KIND_TEST),
            summary=f"Recipe run 21 of `a` at `{SHA}`.\n\n- Run page: {PAGE}\n- Logs: {LOGS}",
            details_url=PAGE,
            recipe_run_id=21,
        ),
    )


def test_start_without_a_comment_and_with_a_check_already_made():
    # A re-run button has no comment; a retried dispatch already made its check run.
    assert report_test_run_started(run(), comment_id=None, links=LINKS) == ()


def test_success_comment_has_a_ready_to_paste_xarray_snippet():
    effects = report_run_completed(
        done(RunConclusion.SUCCESS, dataset_type=DatasetType.ZARR, dataset_public_url=URL),
        links=LINKS,
    )
    check, comment = effects
    assert check == CompleteCheckRun(
        check_run_id=55,
        conclusion=RunConclusion.SUCCESS,
        title="`a` succeeded",
        summary=f"Recipe run 21 of `a` at `{SHA}`.\n\n- Run page: {PAGE}\n- Logs: {LOGS}",
    )
    assert comment.issue_number == 7
    assert comment.key == "run-21:result"
    assert f'ds = xr.open_dataset("{URL}", engine="zarr", chunks={{}})' in comment.body
    snippet = comment.body.split("```python\n")[1].split("```")[0]
    ast.parse(snippet)  # it really is Python


def test_snippet_quotes_awkward_urls_safely():
    body = msg.open_dataset("zarr", 'https://x.org/a"b.zarr')
    snippet = body.split("```python\n")[1].split("```")[0]
    tree = ast.parse(snippet)
    assert tree.body[1].value.args[0].value == 'https://x.org/a"b.zarr'


def test_success_without_a_url_or_of_another_type():
    assert msg.open_dataset(None, None) == msg.NO_DATASET_URL
    assert msg.open_dataset("kerchunk", "s3://x/ref.json") == msg.OPEN_OTHER.format(
        dataset_type="kerchunk", dataset_url="s3://x/ref.json"
    )
    assert 'engine="zarr"' in msg.open_dataset(None, URL)  # the original left the type unset


def test_failure_comment_shows_the_end_of_the_error_and_the_logs_link():
    error = (
        "Traceback (most recent call last):\n"
        + "\n".join(f"  line {i}" for i in range(40))
        + "\nValueError: no"
    )
    [_, comment] = report_run_completed(done(RunConclusion.FAILURE, message=error), links=LINKS)
    assert comment.body == msg.RESULT_FAILURE.format(
        recipe_id="a", sha=SHA, what="failed", error=msg.error_tail(error), logs=LOGS, url=PAGE
    )
    assert "ValueError: no" in comment.body
    assert "line 0\n" not in comment.body
    assert LOGS in comment.body


def test_timed_out_run_says_it_ran_out_of_time():
    [check, comment] = report_run_completed(done(RunConclusion.TIMED_OUT), links=LINKS)
    assert check.title == "`a` timed out"
    assert "ran out of time" in comment.body
    assert msg.RESULT_FAILURE_NO_ERROR in comment.body


def test_cancelled_run_closes_its_check_without_a_comment():
    assert report_run_completed(done(RunConclusion.CANCELLED), links=LINKS) == (
        CompleteCheckRun(
            check_run_id=55,
            conclusion=RunConclusion.CANCELLED,
            title="`a` was cancelled",
            summary=f"Recipe run 21 of `a` at `{SHA}`.\n\n- Run page: {PAGE}\n- Logs: {LOGS}",
        ),
    )


def test_completion_of_a_run_still_in_progress_is_a_bug():
    with pytest.raises(ValueError, match="not completed"):
        report_run_completed(run(), links=LINKS)


def test_error_text_with_backticks_cannot_break_out_of_its_code_block():
    fenced = msg.error_tail("bad ``` text")
    assert fenced.startswith("````\n")
    assert fenced.endswith("\n````")


def test_dispatch_failure_reacts_confused_and_explains():
    effects = report_dispatch_failed(
        run(), comment_id=900, error="bakery `local` refused: disk full", links=LINKS
    )
    assert effects == (
        AddReaction(comment_id=900, content="confused"),
        PostComment(
            issue_number=7,
            key="run-21:dispatch-failed",
            body=msg.DISPATCH_FAILED.format(
                recipe_id="a",
                sha=SHA,
                error=msg.error_tail("bakery `local` refused: disk full"),
                logs=LOGS,
            ),
        ),
        CompleteCheckRun(
            check_run_id=55,
            conclusion=RunConclusion.FAILURE,
            title="`a` failed",
            summary=f"Recipe run 21 of `a` at `{SHA}`.\n\n- Run page: {PAGE}\n- Logs: {LOGS}",
        ),
    )


# -- production runs ----------------------------------------------------------------------------
def prod(**kw):
    base = dict(is_test=False, status=RunStatus.QUEUED, check_run_id=None, pr_number=None)
    return run(**(base | kw))


def test_production_run_is_deployed_at_the_merge_sha_first():
    assert launch_production_run(prod(), links=LINKS) == (
        CreateDeployment(
            recipe_run_id=21, ref=SHA, environment="a", description="Production run 21 of a"
        ),
    )


def test_deployed_production_run_goes_in_progress_then_is_dispatched():
    assert launch_production_run(prod(deployment_id=8, requested_by="merger"), links=LINKS) == (
        SetDeploymentStatus(
            deployment_id=8,
            state="in_progress",
            environment_url=PAGE,
            log_url=LOGS,
            description="Running",
        ),
        DispatchRun(run_id=21, requested_by="merger"),
    )
    [_, dispatch] = launch_production_run(prod(deployment_id=8), links=LINKS)
    assert dispatch == DispatchRun(run_id=21, requested_by=MERGE_REQUESTER)


@pytest.mark.parametrize("status", [RunStatus.IN_PROGRESS, RunStatus.COMPLETED])
def test_launched_production_run_is_not_launched_again(status):
    assert launch_production_run(prod(deployment_id=8, status=status), links=LINKS) == ()


def test_test_runs_are_never_deployed():
    assert launch_production_run(run(status=RunStatus.QUEUED), links=LINKS) == ()


@pytest.mark.parametrize(
    ("conclusion", "state"),
    [
        (RunConclusion.SUCCESS, "success"),
        (RunConclusion.FAILURE, "failure"),
        (RunConclusion.TIMED_OUT, "error"),
        (RunConclusion.CANCELLED, "error"),
    ],
)
def test_production_completion_sets_the_deployment_state(conclusion, state):
    finished = prod(deployment_id=8, status=RunStatus.COMPLETED, conclusion=conclusion)
    [status] = report_run_completed(finished, links=LINKS)
    assert (status.deployment_id, status.state, status.environment_url, status.log_url) == (
        8,
        state,
        PAGE,
        LOGS,
    )


def test_production_dispatch_failure_marks_the_deployment_error():
    [status] = report_dispatch_failed(
        prod(deployment_id=8), comment_id=None, error="x", links=LINKS
    )
    assert status.state == "error"
    assert report_dispatch_failed(prod(), comment_id=None, error="x", links=LINKS) == ()
