"""The closed vocabulary of side effects that decisions return and adapters apply.

Each effect is a frozen dataclass named in the imperative, applied in one `match` (with
`assert_never`), and carries a stable `dedupe_key`: applying an effect twice (a job retried, a
delivery replayed) must find the first result instead of making a second one. How each kind
finds its earlier result is noted on the class; the key is scoped to one repository.
GitHub effects live here; this service's own (rows and jobs) in core.service_effects.
`core.github_requests.to_request` maps every GitHub effect to its REST call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from pangeo_forge_orchestrator.core.service_effects import (
    CancelRun,
    CreateFeedstock,
    DispatchRun,
    ExpandMeta,
    QueueProductionRun,
    QueueTestRun,
    RecordFeedstock,
)
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion

__all__ = [
    "GITHUB_EFFECTS",
    "SERVICE_EFFECTS",
    "AddReaction",
    "CancelRun",
    "CompleteCheckRun",
    "CreateBranch",
    "CreateCheckRun",
    "CreateDeployment",
    "CreateFeedstock",
    "CreateRepository",
    "DeleteBranch",
    "DeleteFile",
    "DispatchRun",
    "Effect",
    "ExpandMeta",
    "GitHubEffect",
    "MergePullRequest",
    "OpenPullRequest",
    "PostComment",
    "PutFile",
    "QueueProductionRun",
    "QueueTestRun",
    "RecordFeedstock",
    "ServiceEffect",
    "SetDeploymentStatus",
    "Skip",
]

CheckStatus = Literal["queued", "in_progress", "completed"]
ReactionContent = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
DeploymentState = Literal[
    "error", "failure", "inactive", "in_progress", "queued", "pending", "success"
]


def sync_check_external_id(head_sha: str) -> str:
    """The external id of a head sha's "Recipe runs" check (one per sha)."""
    return f"pfo-sync:{head_sha}"


def run_check_external_id(run_id: int) -> str:
    return f"pfo-recipe-run:{run_id}"


# -- GitHub: checks, comments, reactions, deployments -----------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateCheckRun:
    """Found again by `external_id` among the sha's check runs of that `name`."""

    head_sha: str
    name: str
    external_id: str
    status: CheckStatus
    title: str
    summary: str
    details_url: str | None = None
    conclusion: RunConclusion | None = None
    # Where the applier records the new check run's id (None: the sync check of a sha).
    recipe_run_id: int | None = None

    def __post_init__(self) -> None:
        if (self.status == "completed") != (self.conclusion is not None):
            raise ValueError("a check run has a conclusion exactly when it is completed")

    @property
    def dedupe_key(self) -> str:
        return f"check-run:{self.external_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteCheckRun:
    """Idempotent by nature: completing twice with the same values changes nothing."""

    check_run_id: int
    conclusion: RunConclusion
    title: str
    summary: str

    @property
    def dedupe_key(self) -> str:
        return f"check-run:{self.check_run_id}:completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostComment:
    """Carries a hidden marker (`messages.comment_marker(key)`), found again by that marker."""

    issue_number: int
    key: str
    body: str

    @property
    def dedupe_key(self) -> str:
        return f"comment:{self.issue_number}:{self.key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddReaction:
    """GitHub answers 200 instead of 201 for a reaction the app already left."""

    comment_id: int
    content: ReactionContent

    @property
    def dedupe_key(self) -> str:
        return f"reaction:{self.comment_id}:{self.content}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateDeployment:
    """Found again by `payload.recipe_run_id` among the deployments of `ref` and `environment`.

    `required_contexts=()` deploys without waiting for statuses (the run is the check) and
    `auto_merge=False` keeps GitHub from merging the default branch into `ref`.
    """

    recipe_run_id: int
    ref: str
    environment: str
    description: str
    required_contexts: tuple[str, ...] = ()
    auto_merge: bool = False
    production_environment: bool = True

    @property
    def dedupe_key(self) -> str:
        return f"deployment:recipe-run-{self.recipe_run_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SetDeploymentStatus:
    """Found again among the deployment's statuses by `state`."""

    deployment_id: int
    state: DeploymentState
    environment_url: str
    log_url: str
    description: str

    @property
    def dedupe_key(self) -> str:
        return f"deployment-status:{self.deployment_id}:{self.state}"


# -- GitHub: repositories, branches, files, pull requests (feedstock creation) -----------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRepository:
    """GitHub answers 422 "name already exists" when it does: the step is then done."""

    owner: str
    name: str
    description: str
    homepage: str
    license_template: str
    gitignore_template: str
    owner_is_org: bool = True

    @property
    def dedupe_key(self) -> str:
        return f"repository:{self.owner}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateBranch:
    """422 "Reference already exists" means done."""

    branch: str
    sha: str

    @property
    def dedupe_key(self) -> str:
        return f"branch:{self.branch}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PutFile:
    """Create a file on `branch`; `blob_sha` is the existing file's sha when it must be replaced."""

    path: str
    content_base64: str
    message: str
    branch: str
    blob_sha: str | None = None

    @property
    def dedupe_key(self) -> str:
        return f"file:{self.branch}:{self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteFile:
    """404 means already deleted."""

    path: str
    blob_sha: str
    message: str
    branch: str

    @property
    def dedupe_key(self) -> str:
        return f"delete-file:{self.branch}:{self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenPullRequest:
    """Found again among the open PRs of `head` into `base`."""

    title: str
    head: str
    base: str
    body: str

    @property
    def dedupe_key(self) -> str:
        return f"pull-request:{self.head}:{self.base}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MergePullRequest:
    """`pulls/{n}/merge` answers 204 on GET once merged."""

    number: int
    commit_title: str
    merge_method: Literal["merge", "squash", "rebase"] = "merge"

    @property
    def dedupe_key(self) -> str:
        return f"merge:{self.number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteBranch:
    """422/404 means already gone."""

    branch: str

    @property
    def dedupe_key(self) -> str:
        return f"delete-branch:{self.branch}"


GitHubEffect = (
    CreateCheckRun
    | CompleteCheckRun
    | PostComment
    | AddReaction
    | CreateDeployment
    | SetDeploymentStatus
    | CreateRepository
    | CreateBranch
    | PutFile
    | DeleteFile
    | OpenPullRequest
    | MergePullRequest
    | DeleteBranch
)
ServiceEffect = (
    RecordFeedstock
    | QueueTestRun
    | QueueProductionRun
    | DispatchRun
    | CancelRun
    | ExpandMeta
    | CreateFeedstock
)
Effect = GitHubEffect | ServiceEffect
GITHUB_EFFECTS: tuple[type[GitHubEffect], ...] = get_args(GitHubEffect)
SERVICE_EFFECTS: tuple[type[ServiceEffect], ...] = get_args(ServiceEffect)


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to do, and why (recorded on the delivery as its ignore reason)."""

    reason: str
