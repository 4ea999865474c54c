"""The JSON objects of the GitHub simulator, shaped like GitHub's REST answers.

Each builder makes one object from parameters and GitHub's URL patterns; its output validates
against the response schema GitHub's OpenAPI description gives the operations that return it
(tests/sandbox/test_objects.py holds the proof). The builders live in six modules by topic;
import them from here.
"""

from pangeo_forge_orchestrator.sandbox.objects_base import (
    APP_EVENTS,
    APP_PERMISSIONS,
    AUTHOR_ASSOCIATIONS,
    DOCUMENTATION_URL,
    JSON,
    Urls,
    app,
    error,
    fake_sha,
    hook_config,
    hook_delivery,
    hook_delivery_item,
    installation,
    installation_token,
    iso,
    node_id,
    stable_id,
    user,
)
from pangeo_forge_orchestrator.sandbox.objects_checks import (
    check_run,
    check_run_list,
    commit_status,
    deployment,
    deployment_status,
    environment,
)
from pangeo_forge_orchestrator.sandbox.objects_comments import (
    REACTIONS,
    issue_comment,
    reaction,
    reaction_rollup,
)
from pangeo_forge_orchestrator.sandbox.objects_git import (
    CommitFacts,
    branch,
    content_entry,
    content_file,
    file_commit,
    git_blob_sha,
    git_ref,
)
from pangeo_forge_orchestrator.sandbox.objects_pulls import (
    diff_entry,
    merge_result,
    pull_request,
    pull_request_minimal,
    pull_request_simple,
)
from pangeo_forge_orchestrator.sandbox.objects_repos import (
    REPO_SETTINGS,
    collaborator_permission,
    installation_repositories,
    repository,
)

__all__ = [
    "APP_EVENTS",
    "APP_PERMISSIONS",
    "AUTHOR_ASSOCIATIONS",
    "DOCUMENTATION_URL",
    "JSON",
    "REACTIONS",
    "REPO_SETTINGS",
    "CommitFacts",
    "Urls",
    "app",
    "branch",
    "check_run",
    "check_run_list",
    "collaborator_permission",
    "commit_status",
    "content_entry",
    "content_file",
    "deployment",
    "deployment_status",
    "diff_entry",
    "environment",
    "error",
    "fake_sha",
    "file_commit",
    "git_blob_sha",
    "git_ref",
    "hook_config",
    "hook_delivery",
    "hook_delivery_item",
    "installation",
    "installation_repositories",
    "installation_token",
    "iso",
    "issue_comment",
    "merge_result",
    "node_id",
    "pull_request",
    "pull_request_minimal",
    "pull_request_simple",
    "reaction",
    "reaction_rollup",
    "repository",
    "stable_id",
    "user",
]
