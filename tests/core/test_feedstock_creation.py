import httpx
import pytest
from gidgethub.sansio import format_url

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    GITHUB_EFFECTS,
    CreateBranch,
    CreateRepository,
    DeleteBranch,
    DeleteFile,
    MergePullRequest,
    OpenPullRequest,
    PutFile,
    RecordFeedstock,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.feedstock_creation import (
    FEEDSTOCK_BRANCH,
    STEPS,
    FeedstockPlan,
    MissingFactError,
    SourceFile,
    Step,
    StepFacts,
    feedstock_path,
    next_step,
    step_action,
)
from pangeo_forge_orchestrator.core.github_requests import to_request
from pangeo_forge_orchestrator.core.layout import RecipeFolder
from tests.github_openapi import github_openapi

STAGED = RepositoryRef(owner="pangeo-forge", name="staged-recipes")
FEEDSTOCK = RepositoryRef(owner="pangeo-forge", name="noaa-oisst-feedstock")
PLAN = FeedstockPlan(staged_recipes=STAGED, recipe=RecipeFolder("noaa-oisst"), pr_number=12)
FILES = (
    SourceFile("recipes/noaa-oisst/recipe.py", "sha-r", "cmVjaXBl"),
    SourceFile("recipes/noaa-oisst/meta.yaml", "sha-m", "bWV0YQ=="),
    SourceFile("recipes/noaa-oisst/lib/util.py", "sha-u", "dXRpbA=="),
)
ALL_FACTS = StepFacts(
    feedstock_base_sha="1" * 40,
    staged_base_sha="2" * 40,
    source_files=FILES,
    feedstock_pr_number=1,
    cleanup_pr_number=99,
)


def test_steps_run_in_plan_order_and_resume_at_the_first_not_done():
    assert next_step(set()) is Step.CREATE_REPOSITORY
    assert next_step({Step.CREATE_REPOSITORY, Step.CREATE_BRANCH}) is Step.COPY_FILES
    assert next_step(set(STEPS)) is None
    # A step recorded out of order does not hide an earlier one that is not done.
    assert next_step({Step.CREATE_BRANCH}) is Step.CREATE_REPOSITORY


def test_the_feedstock_is_recorded_before_its_pr_is_merged():
    assert STEPS.index(Step.RECORD_FEEDSTOCK) < STEPS.index(Step.MERGE_PULL_REQUEST)
    assert STEPS.index(Step.MERGE_PULL_REQUEST) < STEPS.index(Step.OPEN_CLEANUP_PULL_REQUEST)


def test_plan_names_the_new_repository_in_the_same_account():
    assert PLAN.feedstock == FEEDSTOCK
    assert PLAN.cleanup_branch == "cleanup-noaa-oisst"


def test_create_repository_like_the_original():
    assert step_action(PLAN, Step.CREATE_REPOSITORY, StepFacts()).effects == (
        CreateRepository(
            owner="pangeo-forge",
            name="noaa-oisst-feedstock",
            description="Pangeo Forge feedstock for noaa-oisst.",
            homepage="https://pangeo-forge.org",
            license_template="apache-2.0",
            gitignore_template="Python",
        ),
    )


def test_files_are_copied_under_feedstock_keeping_subfolders():
    action = step_action(PLAN, Step.COPY_FILES, ALL_FACTS)
    assert action.repository == FEEDSTOCK
    assert action.effects == (
        PutFile(
            path="feedstock/lib/util.py",
            content_base64="dXRpbA==",
            message="Add feedstock/lib/util.py",
            branch=FEEDSTOCK_BRANCH,
        ),
        PutFile(
            path="feedstock/meta.yaml",
            content_base64="bWV0YQ==",
            message="Add feedstock/meta.yaml",
            branch=FEEDSTOCK_BRANCH,
        ),
        PutFile(
            path="feedstock/recipe.py",
            content_base64="cmVjaXBl",
            message="Add feedstock/recipe.py",
            branch=FEEDSTOCK_BRANCH,
        ),
    )


def test_an_interrupted_copy_resumes_with_the_files_not_yet_copied():
    facts = StepFacts(
        source_files=FILES, copied_paths=frozenset({"feedstock/lib/util.py", "feedstock/meta.yaml"})
    )
    assert [e.path for e in step_action(PLAN, Step.COPY_FILES, facts).effects] == [
        "feedstock/recipe.py"
    ]


def test_cleanup_removes_the_recipe_from_staged_recipes_on_its_branch():
    action = step_action(
        PLAN,
        Step.REMOVE_RECIPE_FILES,
        StepFacts(source_files=FILES, removed_paths=frozenset({"recipes/noaa-oisst/recipe.py"})),
    )
    assert action.repository == STAGED
    assert action.effects == (
        DeleteFile(
            path="recipes/noaa-oisst/lib/util.py",
            blob_sha="sha-u",
            message="Remove recipes/noaa-oisst/lib/util.py",
            branch="cleanup-noaa-oisst",
        ),
        DeleteFile(
            path="recipes/noaa-oisst/meta.yaml",
            blob_sha="sha-m",
            message="Remove recipes/noaa-oisst/meta.yaml",
            branch="cleanup-noaa-oisst",
        ),
    )


def test_cleanup_pr_title_is_skipped_by_our_own_policy():
    [pr] = step_action(PLAN, Step.OPEN_CLEANUP_PULL_REQUEST, StepFacts()).effects
    assert pr == OpenPullRequest(
        title="Cleanup noaa-oisst",
        head="cleanup-noaa-oisst",
        base="main",
        body=msg.CLEANUP_PR_BODY.format(name="noaa-oisst", feedstock=FEEDSTOCK.full_name),
    )
    assert PLAN.policy.skips_title(pr.title)


@pytest.mark.parametrize(
    ("step", "fact"),
    [
        (Step.CREATE_BRANCH, "feedstock_base_sha"),
        (Step.COPY_FILES, "source_files"),
        (Step.MERGE_PULL_REQUEST, "feedstock_pr_number"),
        (Step.CREATE_CLEANUP_BRANCH, "staged_base_sha"),
        (Step.REMOVE_RECIPE_FILES, "source_files"),
        (Step.MERGE_CLEANUP_PULL_REQUEST, "cleanup_pr_number"),
    ],
)
def test_a_step_says_which_fact_it_needs(step, fact):
    with pytest.raises(MissingFactError, match=fact) as caught:
        step_action(PLAN, step, StepFacts())
    assert (caught.value.step, caught.value.fact) == (step, fact)


def test_source_files_must_be_inside_the_recipe_folder():
    with pytest.raises(ValueError, match="not inside"):
        feedstock_path(PLAN, "recipes/other/meta.yaml")


def test_whole_plan_resumes_after_a_crash_and_makes_one_repository():
    """Walk the plan like the job does, crash before merging, resume, and count effects."""
    done: list[Step] = []
    applied = []

    def work(*, crash_at=None):
        while (step := next_step(done)) is not None:
            if step is crash_at:
                raise RuntimeError("GitHub 502")
            applied.append(step_action(PLAN, step, ALL_FACTS))
            done.append(step)

    with pytest.raises(RuntimeError):
        work(crash_at=Step.MERGE_PULL_REQUEST)
    work()
    assert done == list(STEPS)
    effects = [effect for action in applied for effect in action.effects]
    assert sum(isinstance(e, CreateRepository) for e in effects) == 1
    assert [type(e) for e in effects].count(MergePullRequest) == 2  # feedstock PR, cleanup PR
    assert effects.count(RecordFeedstock(spec=FEEDSTOCK.full_name)) == 1
    assert DeleteBranch(branch=FEEDSTOCK_BRANCH) in effects
    assert CreateBranch(branch="cleanup-noaa-oisst", sha="2" * 40) in effects


def test_every_step_request_is_valid_for_github():
    api = github_openapi()
    for step in STEPS:
        action = step_action(PLAN, step, ALL_FACTS)
        for effect in action.effects:
            if not isinstance(effect, GITHUB_EFFECTS):
                continue
            request = to_request(effect, action.repository)
            url = format_url(
                request.url_template, dict(request.url_vars), base_url="https://api.github.com"
            )
            body = None if request.json_body is None else dict(request.json_body)
            api.validate(
                httpx.Request(request.method, url, json=body), base_url="https://api.github.com"
            )
