"""Every GitHub effect maps to a request that GitHub's own OpenAPI description accepts."""

import httpx
import pytest
from gidgethub.sansio import format_url

from pangeo_forge_orchestrator.core import messages as msg
from pangeo_forge_orchestrator.core.effects import (
    GITHUB_EFFECTS,
    AddReaction,
    CompleteCheckRun,
    CreateBranch,
    CreateCheckRun,
    CreateDeployment,
    CreateRepository,
    DeleteBranch,
    DeleteFile,
    MergePullRequest,
    OpenPullRequest,
    PostComment,
    PutFile,
    SetDeploymentStatus,
)
from pangeo_forge_orchestrator.core.events import RepositoryRef
from pangeo_forge_orchestrator.core.github_requests import GitHubRequest, to_request
from pangeo_forge_orchestrator.core.vocabulary import RunConclusion
from tests.github_openapi import github_openapi

API = "https://api.github.com"
REPO = RepositoryRef(owner="pangeo-forge", name="noaa-oisst-feedstock")
SHA = "0123456789abcdef0123456789abcdef01234567"

SAMPLES = {
    "checks/create in progress": CreateCheckRun(
        head_sha=SHA,
        name="Recipe runs",
        external_id="pfo-sync:" + SHA,
        status="in_progress",
        title="Reading meta.yaml",
        summary="Checking",
        details_url="https://pangeo-forge.org/x",
    ),
    "checks/create completed": CreateCheckRun(
        head_sha=SHA,
        name="Recipe runs",
        external_id="pfo-sync:" + SHA,
        status="completed",
        conclusion=RunConclusion.FAILURE,
        title="meta.yaml needs changes",
        summary="- problem",
    ),
    "checks/update": CompleteCheckRun(
        check_run_id=4,
        conclusion=RunConclusion.CANCELLED,
        title="Cancelled",
        summary="superseded",
    ),
    "issues/create-comment": PostComment(issue_number=12, key="run-3:result", body="It worked"),
    "reactions/create-for-issue-comment": AddReaction(comment_id=99, content="eyes"),
    "repos/create-deployment": CreateDeployment(
        recipe_run_id=3,
        ref=SHA,
        environment="avhrr-only",
        description="Production run 3",
    ),
    "repos/create-deployment-status": SetDeploymentStatus(
        deployment_id=8,
        state="in_progress",
        environment_url="https://pangeo-forge.org/r/3",
        log_url="http://127.0.0.1:8000/recipe_runs/3/logs",
        description="x" * 200,
    ),
    "repos/create-in-org": CreateRepository(
        owner="pangeo-forge",
        name="noaa-oisst-feedstock",
        description="Pangeo Forge feedstock for noaa-oisst.",
        homepage="https://pangeo-forge.org",
        license_template="apache-2.0",
        gitignore_template="Python",
    ),
    "repos/create-for-authenticated-user": CreateRepository(
        owner="octocat",
        name="x-feedstock",
        description="d",
        homepage="https://pangeo-forge.org",
        license_template="apache-2.0",
        gitignore_template="Python",
        owner_is_org=False,
    ),
    "git/create-ref": CreateBranch(branch="create-feedstock", sha=SHA),
    "repos/create-or-update-file-contents": PutFile(
        path="feedstock/sub dir/meta.yaml",
        content_base64="cmVjaXBlczogW10K",
        message="Add",
        branch="b",
    ),
    "repos/create-or-update-file-contents replace": PutFile(
        path="feedstock/meta.yaml",
        content_base64="eA==",
        message="Add",
        branch="b",
        blob_sha="abc",
    ),
    "repos/delete-file": DeleteFile(
        path="recipes/x/meta.yaml", blob_sha="abc", message="Remove", branch="c"
    ),
    "pulls/create": OpenPullRequest(
        title="Create x-feedstock", head="create-feedstock", base="main", body="b"
    ),
    "pulls/merge": MergePullRequest(number=1, commit_title="Create x-feedstock"),
    "git/delete-ref": DeleteBranch(branch="cleanup-x"),
}


def as_httpx(request: GitHubRequest) -> httpx.Request:
    url = format_url(request.url_template, dict(request.url_vars), base_url=API)
    if request.json_body is None:
        return httpx.Request(request.method, url)
    return httpx.Request(request.method, url, json=dict(request.json_body))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_request_matches_githubs_description(name):
    request = to_request(SAMPLES[name], REPO)
    matched = github_openapi().validate(as_httpx(request), base_url=API)
    assert matched.operation.operation_id == name.split(" ")[0]


def test_every_github_effect_has_a_sample():
    assert {type(effect) for effect in SAMPLES.values()} == set(GITHUB_EFFECTS)


def test_check_run_cannot_be_completed_without_a_conclusion():
    with pytest.raises(ValueError, match="conclusion"):
        CreateCheckRun(
            head_sha=SHA, name="n", external_id="e", status="completed", title="t", summary="s"
        )
    with pytest.raises(ValueError, match="conclusion"):
        CreateCheckRun(
            head_sha=SHA,
            name="n",
            external_id="e",
            status="in_progress",
            title="t",
            summary="s",
            conclusion=RunConclusion.SUCCESS,
        )


def test_deployment_request_pins_the_sha_and_never_auto_merges():
    request = to_request(SAMPLES["repos/create-deployment"], REPO)
    assert request.url_vars == {"owner": "pangeo-forge", "repo": "noaa-oisst-feedstock"}
    assert request.json_body == {
        "ref": SHA,
        "environment": "avhrr-only",
        "description": "Production run 3",
        "required_contexts": [],
        "auto_merge": False,
        "production_environment": True,
        "payload": {"recipe_run_id": 3},
    }


def test_deployment_status_sends_state_not_status():
    body = to_request(SAMPLES["repos/create-deployment-status"], REPO).json_body
    assert body["state"] == "in_progress"
    assert "status" not in body
    assert len(body["description"]) == 140


def test_comment_carries_its_hidden_marker():
    body = to_request(SAMPLES["issues/create-comment"], REPO).json_body
    assert body == {"body": "It worked\n\n" + msg.comment_marker("run-3:result")}
    assert msg.comment_marker("run-3:result") == "<!-- pfo:run-3:result -->"


def test_file_paths_keep_their_slashes_and_are_never_spliced_into_the_template():
    request = to_request(SAMPLES["repos/create-or-update-file-contents"], REPO)
    assert request.url_template == "/repos/{owner}/{repo}/contents/{+path}"
    assert (
        as_httpx(request).url.raw_path
        == b"/repos/pangeo-forge/noaa-oisst-feedstock/contents/feedstock/sub%20dir/meta.yaml"
    )


def test_delete_branch_addresses_the_heads_ref():
    request = to_request(SAMPLES["git/delete-ref"], REPO)
    assert (
        str(as_httpx(request).url)
        == f"{API}/repos/pangeo-forge/noaa-oisst-feedstock/git/refs/heads/cleanup-x"
    )


def test_new_repository_is_public_initialised_with_licence_and_gitignore():
    body = to_request(SAMPLES["repos/create-in-org"], REPO).json_body
    assert body["auto_init"] is True
    assert body["private"] is False
    assert (body["license_template"], body["gitignore_template"]) == ("apache-2.0", "Python")
    assert (body["has_issues"], body["has_projects"], body["has_wiki"]) == (True, False, False)


def test_the_validator_rejects_the_originals_deployment_status_bug():
    """The original posted `status=`; GitHub requires `state`, and this test harness says so."""
    request = httpx.Request(
        "POST", f"{API}/repos/o/r/deployments/8/statuses", json={"status": "success"}
    )
    with pytest.raises(AssertionError, match="state"):
        github_openapi().validate(request, base_url=API)
