"""The simulator's REST objects validate against GitHub's response schemas and say the truth.

One table maps every operation of the OpenAPI subset that answers JSON to realistic instances
of the builder that answers it; a test holds the table complete, another validates each entry.
The remaining tests check the fields the service reads and the URLs GitHub's patterns give.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from pangeo_forge_orchestrator.sandbox import objects
from tests.sandbox.schemas import (
    BASE_SHA,
    HEAD_SHA,
    MERGE_SHA,
    T0,
    T1,
    T2,
    URLS,
    assert_component,
    assert_rest_response,
    json_responses,
    merged_pull,
    sample_pull,
    sample_repo,
)

FULL = "pangeo-forge/staged-recipes"
REPO = "/repos/{owner}/{repo}"
COMMIT = objects.CommitFacts(
    sha=HEAD_SHA,
    message="Add gpcp recipe",
    parents=(BASE_SHA,),
    author_name="Contributor",
    author_email="contributor@example.org",
    date=T1,
)


def sample_app() -> dict[str, Any]:
    return objects.app(URLS, app_id=4242, slug="pangeo-forge", owner="pangeo-forge", created_at=T0)


def sample_installation() -> dict[str, Any]:
    return objects.installation(
        URLS,
        installation_id=55,
        app_id=4242,
        app_slug="pangeo-forge",
        account="pangeo-forge",
        created_at=T0,
    )


def sample_check_runs() -> list[dict[str, Any]]:
    running = objects.check_run(
        URLS,
        full_name=FULL,
        check_run_id=9001,
        app=sample_app(),
        name="recipe-runs",
        head_sha=HEAD_SHA,
        status="in_progress",
        conclusion=None,
        started_at=T1,
        completed_at=None,
        details_url=None,
        external_id=None,
        output=None,
    )
    done = objects.check_run(
        URLS,
        full_name=FULL,
        check_run_id=9002,
        app=sample_app(),
        name="recipe-runs",
        head_sha=HEAD_SHA,
        status="completed",
        conclusion="success",
        started_at=T1,
        completed_at=T2,
        details_url="http://127.0.0.1:8000/recipe_runs/3",
        external_id="recipe-run-3",
        output={"title": "1 recipe run succeeded", "summary": "gpcp: success", "text": None},
        actions=[{"label": "Re-run", "description": "Run again", "identifier": "rerun"}],
        pull_requests=[sample_pull()],
    )
    return [running, done]


def sample_deployment() -> dict[str, Any]:
    return objects.deployment(
        URLS,
        full_name="pangeo-forge/gpcp-feedstock",
        deployment_id=812,
        sha=MERGE_SHA,
        ref="main",
        task="deploy",
        environment="gpcp",
        description="Production run of gpcp",
        payload={"recipe_run_id": 4},
        creator="pangeo-forge[bot]",
        created_at=T1,
        updated_at=T1,
        transient_environment=False,
        production_environment=True,
        app=sample_app(),
    )


def sample_deployment_status(state: str = "success") -> dict[str, Any]:
    return objects.deployment_status(
        URLS,
        full_name="pangeo-forge/gpcp-feedstock",
        status_id=813,
        deployment_id=812,
        state=state,
        description="Production run succeeded",
        environment="gpcp",
        environment_url="http://127.0.0.1:8000/feedstocks/1/datasets",
        log_url="http://127.0.0.1:8000/recipe_runs/4/logs",
        target_url="http://127.0.0.1:8000/recipe_runs/4/logs",
        creator="pangeo-forge[bot]",
        created_at=T2,
        updated_at=T2,
    )


def sample_comment(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "full_name": FULL,
        "comment_id": 5501,
        "issue_number": 7,
        "body": "/run gpcp",
        "user_login": "maintainer",
        "created_at": T1,
        "updated_at": T1,
        "author_association": "MEMBER",
        **overrides,
    }
    return objects.issue_comment(URLS, **values)


def sample_reaction(content: str = "eyes") -> dict[str, Any]:
    return objects.reaction(
        URLS, reaction_id=66, content=content, user_login="pangeo-forge[bot]", created_at=T1
    )


def sample_diff() -> list[dict[str, Any]]:
    return [
        objects.diff_entry(
            URLS,
            full_name=FULL,
            filename="recipes/gpcp/meta.yaml",
            status="added",
            blob_sha=objects.git_blob_sha(b"title: GPCP\n"),
            additions=12,
            deletions=0,
            ref=HEAD_SHA,
        ),
        objects.diff_entry(
            URLS,
            full_name=FULL,
            filename="recipes/gpcp/recipe.py",
            status="modified",
            blob_sha=objects.git_blob_sha(b"recipe = 1\n"),
            additions=3,
            deletions=1,
            ref=HEAD_SHA,
            patch="@@ -1 +1,3 @@\n-recipe = 0\n+recipe = 1\n",
        ),
    ]


def sample_contents() -> list[Any]:
    meta = objects.content_file(
        URLS, full_name=FULL, path="recipes/gpcp/meta.yaml", data=b"title: GPCP\n", ref="main"
    )
    listing = [
        objects.content_entry(
            URLS, full_name=FULL, path="recipes/gpcp/meta.yaml", data=b"title: GPCP\n", ref="main"
        ),
        objects.content_entry(
            URLS, full_name=FULL, path="recipes/gpcp/data", data=None, ref="main"
        ),
    ]
    return [meta, listing]


def sample_file_commits() -> list[dict[str, Any]]:
    entry = objects.content_file(
        URLS, full_name=FULL, path="recipes/gpcp/meta.yaml", data=b"title: GPCP\n", ref="main"
    )
    return [objects.file_commit(URLS, full_name=FULL, commit=COMMIT, content=entry)]


def sample_delivery_items() -> list[dict[str, Any]]:
    common: dict[str, Any] = {
        "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516",
        "delivered_at": T1,
        "event": "pull_request",
        "action": "opened",
        "installation_id": 55,
        "repository_id": 301_234,
    }
    ok = objects.hook_delivery_item(
        delivery_id=1, status_code=202, redelivery=False, duration=0.03, **common
    )
    failed = objects.hook_delivery_item(delivery_id=2, status_code=0, redelivery=True, **common)
    return [ok, failed]


def sample_delivery() -> dict[str, Any]:
    return objects.hook_delivery(
        sample_delivery_items()[0],
        url="http://127.0.0.1:8000/github/hooks/",
        request_headers={"X-GitHub-Event": "pull_request"},
        request_payload={"action": "opened"},
        response_headers={"Content-Type": "application/json"},
        response_body='{"delivery": "0b989ba4-242f-11e5-81e1-c7b6966d2516", "duplicate": false}',
    )


def sample_environment() -> dict[str, Any]:
    return objects.environment(
        URLS,
        full_name="pangeo-forge/gpcp-feedstock",
        environment_id=77,
        name="gpcp",
        created_at=T1,
        updated_at=T1,
    )


def one(build: Callable[[], Any]) -> Callable[[], list[Any]]:
    return lambda: [build()]


def listed(build: Callable[[], Any]) -> Callable[[], list[Any]]:
    return lambda: [[build()]]


def pulls_full() -> list[Any]:
    return [sample_pull(), merged_pull(), sample_pull(draft=True)]


def pulls_listed() -> list[Any]:
    return [[objects.pull_request_simple(p) for p in pulls_full()]]


def repositories() -> list[Any]:
    return [sample_repo(), sample_repo("private-feedstock", private=True, pushed_at=None)]


def git_refs() -> list[Any]:
    return [
        objects.git_ref(URLS, full_name=FULL, branch=b, sha=HEAD_SHA) for b in ("main", "feature/x")
    ]


RESPONSES: dict[tuple[str, str, int], Callable[[], list[Any]]] = {
    ("GET", "/app", 200): one(sample_app),
    ("GET", "/app/installations", 200): listed(sample_installation),
    ("POST", "/app/installations/{installation_id}/access_tokens", 201): one(
        lambda: objects.installation_token(token="ghs_sandbox", expires_at=T2)
    ),
    ("GET", "/app/hook/config", 200): one(
        lambda: objects.hook_config(url="http://127.0.0.1:8000/github/hooks/")
    ),
    ("PATCH", "/app/hook/config", 200): one(
        lambda: objects.hook_config(url="http://127.0.0.1:9/hooks", secret_set=False)
    ),
    ("GET", "/app/hook/deliveries", 200): lambda: [sample_delivery_items()],
    ("GET", "/app/hook/deliveries/{delivery_id}", 200): one(sample_delivery),
    ("GET", "/installation/repositories", 200): one(
        lambda: objects.installation_repositories(repositories())
    ),
    ("GET", REPO, 200): repositories,
    ("PATCH", REPO, 200): one(lambda: sample_repo(settings={"description": "GPCP", "topics": []})),
    ("POST", "/orgs/{org}/repos", 201): one(lambda: sample_repo("gpcp-feedstock", pushed_at=None)),
    ("POST", "/user/repos", 201): one(
        lambda: sample_repo("scratch", owner="contributor", owner_type="User")
    ),
    ("GET", "/orgs/{org}/repos", 200): lambda: [repositories()],
    ("GET", "/user/repos", 200): lambda: [repositories()],
    ("GET", f"{REPO}/installation", 200): one(sample_installation),
    ("POST", f"{REPO}/check-runs", 201): sample_check_runs,
    ("GET", f"{REPO}/check-runs/{{check_run_id}}", 200): sample_check_runs,
    ("PATCH", f"{REPO}/check-runs/{{check_run_id}}", 200): sample_check_runs,
    ("GET", f"{REPO}/commits/{{ref}}/check-runs", 200): lambda: [
        objects.check_run_list(sample_check_runs()),
        objects.check_run_list([]),
    ],
    ("POST", f"{REPO}/statuses/{{sha}}", 201): one(
        lambda: objects.commit_status(
            URLS,
            full_name=FULL,
            status_id=31,
            sha=HEAD_SHA,
            state="pending",
            description=None,
            target_url=None,
            context="pangeo-forge/recipe-runs",
            creator="pangeo-forge[bot]",
            created_at=T1,
        )
    ),
    ("GET", f"{REPO}/deployments", 200): listed(sample_deployment),
    ("POST", f"{REPO}/deployments", 201): one(sample_deployment),
    ("GET", f"{REPO}/deployments/{{deployment_id}}", 200): one(sample_deployment),
    ("GET", f"{REPO}/deployments/{{deployment_id}}/statuses", 200): lambda: [
        [sample_deployment_status("in_progress"), sample_deployment_status("success")]
    ],
    ("POST", f"{REPO}/deployments/{{deployment_id}}/statuses", 201): one(sample_deployment_status),
    ("GET", f"{REPO}/issues/{{issue_number}}/comments", 200): listed(sample_comment),
    ("POST", f"{REPO}/issues/{{issue_number}}/comments", 201): one(sample_comment),
    ("GET", f"{REPO}/issues/comments/{{comment_id}}", 200): one(sample_comment),
    ("PATCH", f"{REPO}/issues/comments/{{comment_id}}", 200): one(
        lambda: sample_comment(body="/run gpcp (edited)", updated_at=T2, reactions={"eyes": 1})
    ),
    ("GET", f"{REPO}/issues/comments/{{comment_id}}/reactions", 200): lambda: [
        [sample_reaction("eyes"), sample_reaction("rocket")]
    ],
    ("POST", f"{REPO}/issues/comments/{{comment_id}}/reactions", 200): one(sample_reaction),
    ("POST", f"{REPO}/issues/comments/{{comment_id}}/reactions", 201): one(sample_reaction),
    ("GET", f"{REPO}/pulls", 200): pulls_listed,
    ("POST", f"{REPO}/pulls", 201): one(sample_pull),
    ("GET", f"{REPO}/pulls/{{pull_number}}", 200): pulls_full,
    ("PATCH", f"{REPO}/pulls/{{pull_number}}", 200): pulls_full,
    ("GET", f"{REPO}/pulls/{{pull_number}}/files", 200): lambda: [sample_diff()],
    ("PUT", f"{REPO}/pulls/{{pull_number}}/merge", 200): one(
        lambda: objects.merge_result(sha=MERGE_SHA)
    ),
    ("GET", f"{REPO}/collaborators/{{username}}/permission", 200): lambda: [
        objects.collaborator_permission(URLS, login="someone", permission=p)
        for p in ("admin", "maintain", "write", "triage", "read", "none")
    ],
    ("GET", f"{REPO}/contents/{{path}}", 200): sample_contents,
    ("PUT", f"{REPO}/contents/{{path}}", 200): sample_file_commits,
    ("PUT", f"{REPO}/contents/{{path}}", 201): sample_file_commits,
    ("DELETE", f"{REPO}/contents/{{path}}", 200): one(
        lambda: objects.file_commit(URLS, full_name=FULL, commit=COMMIT, content=None)
    ),
    ("POST", f"{REPO}/git/refs", 201): git_refs,
    ("PATCH", f"{REPO}/git/refs/{{ref}}", 200): git_refs,
    ("GET", f"{REPO}/branches/{{branch}}", 200): lambda: [
        objects.branch(URLS, full_name=FULL, branch="main", commit=COMMIT),
        objects.branch(
            URLS,
            full_name=FULL,
            branch="feature/x",
            commit=objects.CommitFacts(
                sha=MERGE_SHA,
                message="Merge pull request #7",
                parents=(BASE_SHA, HEAD_SHA),
                author_name="Maintainer",
                author_email="maintainer@example.org",
                date=T2,
                tree_sha="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                author_login="maintainer",
            ),
            protected=True,
        ),
    ],
    ("GET", f"{REPO}/environments/{{environment_name}}", 200): one(sample_environment),
    ("PUT", f"{REPO}/environments/{{environment_name}}", 200): one(sample_environment),
}

# JSON answers no builder makes, and why.
NOT_BUILT = {
    # 202 "queued for auto-merge" happens only when the ref is behind; the simulator never defers.
    ("POST", f"{REPO}/deployments", 202),
    # Redelivery is answered with an empty object, nothing to build.
    ("POST", "/app/hook/deliveries/{delivery_id}/attempts", 202),
}


def test_every_json_answer_of_the_subset_has_a_builder() -> None:
    declared = json_responses()
    assert not NOT_BUILT - declared, "NOT_BUILT names answers the subset does not have"
    missing = sorted(declared - NOT_BUILT - set(RESPONSES))
    extra = sorted(set(RESPONSES) - declared)
    assert not missing, f"answers with no sample here: {missing}"
    assert not extra, f"samples for answers the subset does not declare: {extra}"


@pytest.mark.parametrize(("method", "template", "status"), sorted(RESPONSES), ids=lambda v: str(v))
def test_answer_validates_against_githubs_schema(method: str, template: str, status: int) -> None:
    for body in RESPONSES[(method, template, status)]():
        assert_rest_response(method, template, status, body)


def test_validation_names_the_failing_field() -> None:
    pull = sample_pull()
    pull["head"]["repo"]["owner"]["id"] = "not-an-int"
    del pull["merged"]
    with pytest.raises(AssertionError) as failure:
        assert_rest_response("GET", f"{REPO}/pulls/{{pull_number}}", 200, pull)
    assert "$.head.repo.owner.id" in str(failure.value)
    assert "'merged' is a required property" in str(failure.value)


def test_error_bodies_match_githubs_error_schemas() -> None:
    missing = objects.error(404, "Not Found")
    assert missing == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }
    assert_component("basic-error", missing)
    invalid = objects.error(
        422,
        "Validation Failed",
        errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
    )
    assert invalid["errors"][0]["code"] == "invalid"
    assert_component("validation-error", invalid)


def test_iso_writes_utc_seconds_with_z() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    assert objects.iso(datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=two_hours_east)) == (
        "2024-01-02T01:04:05Z"
    )
    assert objects.iso(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"


def test_user_ids_are_stable_and_bots_are_bots() -> None:
    alice = objects.user(URLS, "Alice")
    assert alice["id"] == objects.user(URLS, "alice")["id"]
    assert alice["id"] != objects.user(URLS, "bob")["id"]
    assert alice["type"] == "User"
    assert alice["html_url"] == f"{URLS.web}/Alice"
    assert alice["url"] == f"{URLS.api}/users/Alice"
    bot = objects.user(URLS, "pangeo-forge[bot]")
    assert bot["type"] == "Bot"
    assert bot["html_url"] == f"{URLS.web}/apps/pangeo-forge"
    assert bot["url"] == f"{URLS.api}/users/pangeo-forge%5Bbot%5D"
    assert objects.user(URLS, "pangeo-forge", kind="Organization")["type"] == "Organization"


def test_repository_carries_what_the_service_reads() -> None:
    repo = sample_repo("gpcp-feedstock", repo_id=42, private=True, default_branch="trunk")
    assert repo["id"] == 42
    assert repo["name"] == "gpcp-feedstock"
    assert repo["full_name"] == "pangeo-forge/gpcp-feedstock"
    assert repo["owner"]["login"] == "pangeo-forge"
    assert repo["owner"]["type"] == "Organization"
    assert repo["html_url"] == f"{URLS.web}/pangeo-forge/gpcp-feedstock"
    assert repo["url"] == f"{URLS.api}/repos/pangeo-forge/gpcp-feedstock"
    assert repo["clone_url"] == "file:///tmp/pfo/sandbox/git/pangeo-forge/gpcp-feedstock.git"
    assert repo["default_branch"] == "trunk"
    assert (repo["private"], repo["visibility"]) == (True, "private")
    assert repo["git_url"] == "git://127.0.0.1:8000/pangeo-forge/gpcp-feedstock.git"
    assert repo["pulls_url"] == f"{repo['url']}/pulls{{/number}}"


def test_repository_settings_override_and_unknown_ones_are_refused() -> None:
    repo = sample_repo(settings={"description": "GPCP", "has_issues": False})
    assert (repo["description"], repo["has_issues"]) == ("GPCP", False)
    with pytest.raises(ValueError, match="name"):
        sample_repo(settings={"name": "renamed"})


def test_a_repository_never_pushed_reports_its_creation_time() -> None:
    assert sample_repo(pushed_at=None)["pushed_at"] == objects.iso(T0)


def test_pull_request_carries_what_the_service_reads() -> None:
    pull = merged_pull()
    assert pull["number"] == 7
    assert (pull["state"], pull["merged"]) == ("closed", True)
    assert pull["merged_at"] == objects.iso(T2)
    assert pull["merge_commit_sha"] == MERGE_SHA
    assert pull["merged_by"]["login"] == "maintainer"
    assert (pull["title"], pull["body"]) == ("Add gpcp recipe", "A new recipe for GPCP.")
    assert pull["user"]["login"] == "contributor"
    assert (pull["head"]["ref"], pull["head"]["sha"]) == ("add-gpcp", HEAD_SHA)
    assert (pull["base"]["ref"], pull["base"]["sha"]) == ("main", BASE_SHA)
    assert pull["base"]["repo"]["full_name"] == FULL
    assert pull["head"]["label"] == "pangeo-forge:add-gpcp"
    assert pull["html_url"] == f"{URLS.web}/{FULL}/pull/7"
    assert pull["url"] == f"{URLS.api}/repos/{FULL}/pulls/7"
    assert pull["statuses_url"] == f"{URLS.api}/repos/{FULL}/statuses/{HEAD_SHA}"
    assert pull["_links"]["self"] == {"href": pull["url"]}
    assert pull["mergeable"] is None  # GitHub stops computing it once closed


def test_open_pull_request_is_mergeable_and_not_merged() -> None:
    pull = sample_pull()
    assert (pull["merged"], pull["merged_at"], pull["merged_by"]) == (False, None, None)
    assert (pull["mergeable"], pull["mergeable_state"]) == (True, "clean")
    assert sample_pull(draft=True)["mergeable_state"] == "draft"


def test_pull_request_from_a_fork_has_the_fork_as_head() -> None:
    fork = sample_repo(owner="contributor", owner_type="User", repo_id=999)
    pull = sample_pull(head_repo=fork)
    assert pull["head"]["repo"]["full_name"] == "contributor/staged-recipes"
    assert pull["head"]["label"] == "contributor:add-gpcp"
    assert pull["base"]["repo"]["full_name"] == FULL
    assert_rest_response("GET", f"{REPO}/pulls/{{pull_number}}", 200, pull)


@pytest.mark.parametrize(
    "overrides",
    [
        {"state": "merged"},
        {"state": "closed"},  # closed with no closed_at
        {"merged_at": T2},  # merged but open
        {"merged_by": "maintainer"},  # merged_by without merged_at
    ],
)
def test_impossible_pull_requests_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sample_pull(**overrides)


def test_pull_request_list_item_and_minimal_forms() -> None:
    pull = merged_pull()
    simple = objects.pull_request_simple(pull)
    assert "merged" not in simple
    assert "additions" not in simple
    assert simple["merged_at"] == pull["merged_at"]
    minimal = objects.pull_request_minimal(pull)
    assert minimal["head"] == {
        "ref": "add-gpcp",
        "sha": HEAD_SHA,
        "repo": {"id": 301_234, "url": f"{URLS.api}/repos/{FULL}", "name": "staged-recipes"},
    }


def test_content_file_holds_the_bytes_as_github_wraps_them() -> None:
    data = bytes(range(256)) * 3
    body = objects.content_file(
        URLS, full_name=FULL, path="feedstock/meta.yaml", data=data, ref="main"
    )
    lines = body["content"].split("\n")
    assert lines[-1] == ""  # every line, the last too, ends with a newline
    assert all(len(line) == 60 for line in lines[:-2])
    assert 0 < len(lines[-2]) <= 60
    assert base64.b64decode(body["content"]) == data
    assert (body["encoding"], body["size"], body["type"]) == ("base64", len(data), "file")
    assert (body["name"], body["path"]) == ("meta.yaml", "feedstock/meta.yaml")
    assert body["url"] == f"{URLS.api}/repos/{FULL}/contents/feedstock/meta.yaml?ref=main"
    assert body["html_url"] == f"{URLS.web}/{FULL}/blob/main/feedstock/meta.yaml"
    assert body["_links"] == {"self": body["url"], "git": body["git_url"], "html": body["html_url"]}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_file_sha_is_the_one_git_gives() -> None:
    data = b"title: GPCP\nrecipes:\n  - id: gpcp\n"
    git = subprocess.run(
        ["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True
    )
    body = objects.content_file(URLS, full_name=FULL, path="meta.yaml", data=data, ref="main")
    assert body["sha"] == git.stdout.decode().strip()


def test_directory_entry_has_no_download() -> None:
    entry = objects.content_entry(
        URLS, full_name=FULL, path="recipes/gpcp", data=None, ref="main", sha="a" * 40
    )
    assert (entry["type"], entry["download_url"], entry["sha"]) == ("dir", None, "a" * 40)
    assert entry["html_url"] == f"{URLS.web}/{FULL}/tree/main/recipes/gpcp"
    assert entry["git_url"] == f"{URLS.api}/repos/{FULL}/git/trees/{'a' * 40}"


def test_file_commit_describes_the_commit_and_omits_the_body() -> None:
    body = sample_file_commits()[0]
    assert "content" not in body["content"]
    assert body["content"]["path"] == "recipes/gpcp/meta.yaml"
    commit = body["commit"]
    assert commit["sha"] == HEAD_SHA
    assert commit["message"] == "Add gpcp recipe"
    assert commit["parents"][0]["sha"] == BASE_SHA
    assert commit["author"]["email"] == "contributor@example.org"
    assert len(commit["tree"]["sha"]) == 40
    deleted = objects.file_commit(URLS, full_name=FULL, commit=COMMIT, content=None)
    assert deleted["content"] is None


def test_git_ref_and_branch_point_at_the_commit() -> None:
    ref = objects.git_ref(URLS, full_name=FULL, branch="feature/x", sha=HEAD_SHA)
    assert ref["ref"] == "refs/heads/feature/x"
    assert ref["url"] == f"{URLS.api}/repos/{FULL}/git/refs/heads/feature/x"
    assert ref["object"]["sha"] == HEAD_SHA
    found = objects.branch(URLS, full_name=FULL, branch="main", commit=COMMIT)
    assert (found["name"], found["commit"]["sha"]) == ("main", HEAD_SHA)
    assert found["commit"]["commit"]["message"] == "Add gpcp recipe"
    assert found["commit"]["parents"][0]["sha"] == BASE_SHA


def test_comment_urls_and_reactions() -> None:
    comment = sample_comment(reactions={"eyes": 1, "rocket": 2})
    assert comment["html_url"] == f"{URLS.web}/{FULL}/pull/7#issuecomment-5501"
    assert comment["issue_url"] == f"{URLS.api}/repos/{FULL}/issues/7"
    assert (comment["body"], comment["user"]["login"]) == ("/run gpcp", "maintainer")
    assert comment["author_association"] == "MEMBER"
    assert (comment["reactions"]["total_count"], comment["reactions"]["rocket"]) == (3, 2)
    on_issue = sample_comment(is_pull=False)
    assert on_issue["html_url"] == f"{URLS.web}/{FULL}/issues/7#issuecomment-5501"
    with pytest.raises(ValueError):
        sample_comment(author_association="MAINTAINER")
    with pytest.raises(ValueError):
        sample_reaction("thumbsup")


def test_check_run_reports_its_output_and_pull_requests() -> None:
    running, done = sample_check_runs()
    assert running["output"]["title"] is None
    assert running["conclusion"] is None
    assert done["url"] == f"{URLS.api}/repos/{FULL}/check-runs/9002"
    assert done["html_url"] == f"{URLS.web}/{FULL}/runs/9002"
    assert (done["output"]["title"], done["external_id"]) == (
        "1 recipe run succeeded",
        "recipe-run-3",
    )
    assert done["pull_requests"][0]["number"] == 7
    assert done["app"]["id"] == 4242
    assert "actions" not in done
    # One suite per app and head commit, as on GitHub.
    assert running["check_suite"] == done["check_suite"]
    with pytest.raises(ValueError):
        objects.check_run(
            URLS,
            full_name=FULL,
            check_run_id=1,
            app=sample_app(),
            name="x",
            head_sha=HEAD_SHA,
            status="completed",
            conclusion=None,
            started_at=T1,
            completed_at=T2,
            details_url=None,
            external_id=None,
            output=None,
        )


def test_deployment_keeps_its_payload_and_links_its_statuses() -> None:
    deployment = sample_deployment()
    assert deployment["payload"] == {"recipe_run_id": 4}
    assert deployment["statuses_url"] == (
        f"{URLS.api}/repos/pangeo-forge/gpcp-feedstock/deployments/812/statuses"
    )
    assert deployment["creator"]["type"] == "Bot"
    status = sample_deployment_status()
    assert status["deployment_url"] == deployment["url"]
    assert status["url"] == f"{deployment['url']}/statuses/813"
    assert status["log_url"] == "http://127.0.0.1:8000/recipe_runs/4/logs"


def test_collaborator_permission_maps_roles_to_githubs_legacy_levels() -> None:
    maintain = objects.collaborator_permission(URLS, login="maria", permission="maintain")
    assert (maintain["permission"], maintain["role_name"]) == ("write", "maintain")
    assert maintain["user"]["login"] == "maria"
    assert maintain["user"]["permissions"]["maintain"]
    assert not maintain["user"]["permissions"]["admin"]
    nobody = objects.collaborator_permission(URLS, login="nobody", permission="none")
    assert nobody["permission"] == "none"
    assert not any(nobody["user"]["permissions"].values())
    with pytest.raises(ValueError):
        objects.collaborator_permission(URLS, login="x", permission="owner")


def test_app_installation_and_hook_objects() -> None:
    installation = sample_installation()
    assert installation["account"]["login"] == "pangeo-forge"
    assert installation["access_tokens_url"] == f"{URLS.api}/app/installations/55/access_tokens"
    assert installation["target_id"] == installation["account"]["id"]
    assert sample_app()["html_url"] == f"{URLS.web}/apps/pangeo-forge"
    assert objects.hook_config(url="http://h/")["secret"] == "********"
    assert "secret" not in objects.hook_config(url="http://h/", secret_set=False)
    ok, failed = sample_delivery_items()
    assert (ok["status"], failed["status"]) == ("OK", "failed to connect to host")
    assert (
        objects.hook_delivery_item(
            delivery_id=3,
            guid="g",
            delivered_at=T1,
            status_code=500,
            event="ping",
            action=None,
            installation_id=None,
            repository_id=None,
            redelivery=False,
        )["status"]
        == "Invalid HTTP Response: 500"
    )


def test_schema_check_sees_formats_and_enums() -> None:
    running, _ = sample_check_runs()
    assert_rest_response("GET", f"{REPO}/check-runs/{{check_run_id}}", 200, running)
    for field, value in (("conclusion", "passed"), ("started_at", "2024-05-06 08:00:00")):
        broken = {**running, field: value}
        with pytest.raises(AssertionError, match=rf"\$\.{field}"):
            assert_rest_response("GET", f"{REPO}/check-runs/{{check_run_id}}", 200, broken)
    with pytest.raises(AssertionError, match="not absolute URLs"):
        assert_rest_response(
            "GET", f"{REPO}/check-runs/{{check_run_id}}", 200, {**running, "url": "/check-runs/1"}
        )
