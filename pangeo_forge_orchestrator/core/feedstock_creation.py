"""Turn a merged staged recipe into `<name>-feedstock`, as a resumable list of named steps.

The job records each finished step; after a crash or a GitHub error it asks `next_step` where
to continue, reads what that step needs (`StepFacts`) and applies `step_action`. Every step's
effects are idempotent on their own (see core.effects), so redoing a half-done step is safe
and a second repository is never made.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    CreateBranch,
    CreateRepository,
    DeleteBranch,
    DeleteFile,
    Effect,
    MergePullRequest,
    OpenPullRequest,
    PutFile,
    RecordFeedstock,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.layout import RecipeFolder
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY, Policy

FEEDSTOCK_BRANCH = "create-feedstock"
T = TypeVar("T")


class Step(StrEnum):
    CREATE_REPOSITORY = "create-repository"
    CREATE_BRANCH = "create-branch"
    COPY_FILES = "copy-files"
    OPEN_PULL_REQUEST = "open-pull-request"
    # Recorded before the merge: merging fires the new repo's own "merged" webhook, whose
    # production runs need the feedstock row.
    RECORD_FEEDSTOCK = "record-feedstock"
    MERGE_PULL_REQUEST = "merge-pull-request"
    DELETE_BRANCH = "delete-branch"
    CREATE_CLEANUP_BRANCH = "create-cleanup-branch"
    REMOVE_RECIPE_FILES = "remove-recipe-files"
    OPEN_CLEANUP_PULL_REQUEST = "open-cleanup-pull-request"
    MERGE_CLEANUP_PULL_REQUEST = "merge-cleanup-pull-request"
    DELETE_CLEANUP_BRANCH = "delete-cleanup-branch"


STEPS: tuple[Step, ...] = tuple(Step)


class MissingFactError(ValueError):
    """The job must read `fact` before it can take `step`."""

    def __init__(self, step: Step, fact: str) -> None:
        super().__init__(f"step {step} needs {fact}")
        self.step = step
        self.fact = fact


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedstockPlan:
    staged_recipes: RepositoryRef
    recipe: RecipeFolder
    pr_number: int
    owner_is_org: bool = True
    policy: Policy = DEFAULT_POLICY

    @property
    def feedstock(self) -> RepositoryRef:
        """The new repository, in the same account as staged-recipes."""
        return RepositoryRef(owner=self.staged_recipes.owner, name=self.recipe.feedstock_repo_name)

    @property
    def cleanup_branch(self) -> str:
        return f"cleanup-{self.recipe.name}"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file of `recipes/<name>/` in staged-recipes: its path, blob sha and base64 content."""

    path: str
    blob_sha: str
    content_base64: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFacts:
    """What the job read from GitHub for the step at hand (only that step's fields matter)."""

    feedstock_base_sha: str | None = None
    staged_base_sha: str | None = None
    source_files: tuple[SourceFile, ...] | None = None
    # Paths already handled by an interrupted attempt of the same step.
    copied_paths: frozenset[str] = frozenset()
    removed_paths: frozenset[str] = frozenset()
    feedstock_pr_number: int | None = None
    cleanup_pr_number: int | None = None


@dataclass(frozen=True, slots=True)
class StepAction:
    step: Step
    repository: RepositoryRef
    effects: tuple[Effect, ...]


def next_step(done: Collection[Step]) -> Step | None:
    """The first step not yet done, in plan order; None when the feedstock is complete."""
    return next((step for step in STEPS if step not in done), None)


def feedstock_path(plan: FeedstockPlan, source_path: str) -> str:
    """`recipes/<name>/a/b.py` in staged-recipes becomes `feedstock/a/b.py` (subfolders kept)."""
    prefix = plan.recipe.path + "/"
    if not source_path.startswith(prefix):
        raise ValueError(f"{source_path!r} is not inside {prefix!r}")
    return f"{plan.policy.feedstock_dir}/{source_path.removeprefix(prefix)}"


def step_action(plan: FeedstockPlan, step: Step, facts: StepFacts) -> StepAction:
    """The effects of one step, on the repository they change."""
    name, policy = plan.recipe.name, plan.policy
    feedstock, staged = plan.feedstock, plan.staged_recipes
    match step:
        case Step.CREATE_REPOSITORY:
            effect: Effect = CreateRepository(
                owner=feedstock.owner,
                name=feedstock.name,
                description=msg.FEEDSTOCK_DESCRIPTION.format(name=name),
                homepage=policy.feedstock_homepage,
                license_template=policy.feedstock_license_template,
                gitignore_template=policy.feedstock_gitignore_template,
                owner_is_org=plan.owner_is_org,
            )
            return StepAction(step, feedstock, (effect,))
        case Step.CREATE_BRANCH:
            sha = _need(step, "feedstock_base_sha", facts.feedstock_base_sha)
            return StepAction(step, feedstock, (CreateBranch(branch=FEEDSTOCK_BRANCH, sha=sha),))
        case Step.COPY_FILES:
            files = _need(step, "source_files", facts.source_files)
            puts = []
            for source in sorted(files, key=lambda f: f.path):
                path = feedstock_path(plan, source.path)
                if path in facts.copied_paths:
                    continue
                puts.append(
                    PutFile(
                        path=path,
                        content_base64=source.content_base64,
                        message=msg.FEEDSTOCK_FILE_COMMIT.format(path=path),
                        branch=FEEDSTOCK_BRANCH,
                    )
                )
            return StepAction(step, feedstock, tuple(puts))
        case Step.OPEN_PULL_REQUEST:
            body = msg.FEEDSTOCK_PR_BODY.format(
                name=name, source=staged.full_name, pr_number=plan.pr_number
            )
            title = msg.FEEDSTOCK_PR_TITLE.format(name=name)
            pr = OpenPullRequest(
                title=title, head=FEEDSTOCK_BRANCH, base=policy.default_branch, body=body
            )
            return StepAction(step, feedstock, (pr,))
        case Step.RECORD_FEEDSTOCK:
            return StepAction(step, feedstock, (RecordFeedstock(spec=feedstock.full_name),))
        case Step.MERGE_PULL_REQUEST:
            number = _need(step, "feedstock_pr_number", facts.feedstock_pr_number)
            title = msg.FEEDSTOCK_PR_TITLE.format(name=name)
            return StepAction(
                step, feedstock, (MergePullRequest(number=number, commit_title=title),)
            )
        case Step.DELETE_BRANCH:
            return StepAction(step, feedstock, (DeleteBranch(branch=FEEDSTOCK_BRANCH),))
        case Step.CREATE_CLEANUP_BRANCH:
            sha = _need(step, "staged_base_sha", facts.staged_base_sha)
            return StepAction(step, staged, (CreateBranch(branch=plan.cleanup_branch, sha=sha),))
        case Step.REMOVE_RECIPE_FILES:
            files = _need(step, "source_files", facts.source_files)
            deletes = tuple(
                DeleteFile(
                    path=source.path,
                    blob_sha=source.blob_sha,
                    message=msg.CLEANUP_FILE_COMMIT.format(path=source.path),
                    branch=plan.cleanup_branch,
                )
                for source in sorted(files, key=lambda f: f.path)
                if source.path not in facts.removed_paths
            )
            return StepAction(step, staged, deletes)
        case Step.OPEN_CLEANUP_PULL_REQUEST:
            title = msg.CLEANUP_PR_TITLE.format(name=name)
            body = msg.CLEANUP_PR_BODY.format(name=name, feedstock=feedstock.full_name)
            pr = OpenPullRequest(
                title=title, head=plan.cleanup_branch, base=policy.default_branch, body=body
            )
            return StepAction(step, staged, (pr,))
        case Step.MERGE_CLEANUP_PULL_REQUEST:
            number = _need(step, "cleanup_pr_number", facts.cleanup_pr_number)
            title = msg.CLEANUP_PR_TITLE.format(name=name)
            return StepAction(step, staged, (MergePullRequest(number=number, commit_title=title),))
        case Step.DELETE_CLEANUP_BRANCH:
            return StepAction(step, staged, (DeleteBranch(branch=plan.cleanup_branch),))


def _need(step: Step, fact: str, value: T | None) -> T:
    if value is None:
        raise MissingFactError(step, fact)
    return value
