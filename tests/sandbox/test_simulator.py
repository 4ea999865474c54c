"""The simulator through its API: the staged-recipes story as a person and as the App lives it.

Every request here is checked against GitHub's OpenAPI description and every answer against
its response schema (conftest.py), so these tests also hold the simulator to GitHub's shapes.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.conftest import (
    DANA,
    MAX,
    ORG,
    OTTO,
    STAGED,
    URLS,
    SimAPI,
)
from tests.sandbox.schemas import assert_webhook

REPO = f"/repos/{STAGED}"
BRANCH = "add-gpcp"
RECIPE = {
    "recipes/gpcp/meta.yaml": "title: GPCP\nrecipes:\n  - id: gpcp\n    object: recipe:recipe\n",
    "recipes/gpcp/recipe.py": "recipe = 'gpcp'\n",
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(content: str) -> str:
    return base64.b64decode(content).decode()


def main_sha(api: SimAPI, login: str = DANA) -> str:
    branch = api.ok("GET", f"{REPO}/branches/main", auth=api.user(login))
    return str(branch["commit"]["sha"])


def put_file(api: SimAPI, path: str, text: str, *, branch: str, login: str = DANA) -> Any:
    body = {"message": f"Add {path}", "content": b64(text), "branch": branch}
    return api.ok("PUT", f"{REPO}/contents/{path}", body, auth=api.user(login), status=201)


def open_pull(api: SimAPI) -> dict[str, Any]:
    """Dana proposes the gpcp recipe: a branch from main, one commit per file, a pull request."""
    dana = api.user(DANA)
    ref = {"ref": f"refs/heads/{BRANCH}", "sha": main_sha(api)}
    created = api.ok("POST", f"{REPO}/git/refs", ref, auth=dana, status=201)
    assert created["ref"] == f"refs/heads/{BRANCH}"
    for path, text in RECIPE.items():
        put_file(api, path, text, branch=BRANCH)
    body = {"title": "Add gpcp", "head": BRANCH, "base": "main", "body": "A new recipe."}
    pull: dict[str, Any] = api.ok("POST", f"{REPO}/pulls", body, auth=dana, status=201)
    return pull


def test_opening_a_pull_request_sends_opened(api: SimAPI) -> None:
    pull = open_pull(api)
    head = api.ok("GET", f"{REPO}/branches/{BRANCH}", auth=api.user(DANA))["commit"]["sha"]
    assert (pull["number"], pull["state"], pull["head"]["sha"]) == (1, "open", head)
    assert pull["base"]["sha"] != head
    (opened,) = api.events_of("pull_request", "opened")
    assert_webhook("pull_request", opened.payload)
    assert opened.repo == STAGED
    assert opened.payload["number"] == 1
    assert opened.payload["pull_request"]["head"]["sha"] == head
    assert opened.payload["sender"]["login"] == DANA
    assert opened.payload["installation"]["id"] == 1


def test_pushing_to_the_branch_sends_synchronize(api: SimAPI) -> None:
    before = open_pull(api)["head"]["sha"]
    commit = put_file(api, "recipes/gpcp/extra.txt", "more\n", branch=BRANCH)
    after = commit["commit"]["sha"]
    (synchronize,) = api.events_of("pull_request", "synchronize")
    assert_webhook("pull_request", synchronize.payload)
    assert (synchronize.payload["before"], synchronize.payload["after"]) == (before, after)
    assert synchronize.payload["pull_request"]["head"]["sha"] == after
    assert api.ok("GET", f"{REPO}/pulls/1", auth=api.user(DANA))["head"]["sha"] == after
    files = api.ok("GET", f"{REPO}/pulls/1/files", auth=api.user(DANA))
    assert sorted(f["filename"] for f in files) == sorted([*RECIPE, "recipes/gpcp/extra.txt"])
    assert {f["status"] for f in files} == {"added"}


def test_pull_request_files_and_contents_on_the_branch(api: SimAPI) -> None:
    open_pull(api)
    files = api.ok("GET", f"{REPO}/pulls/1/files", auth=api.user(OTTO))
    assert {f["filename"]: f["additions"] for f in files} == {
        path: len(text.splitlines()) for path, text in RECIPE.items()
    }
    meta = api.ok(
        "GET", f"{REPO}/contents/recipes/gpcp/meta.yaml?ref={BRANCH}", auth=api.user(OTTO)
    )
    assert unb64(meta["content"]) == RECIPE["recipes/gpcp/meta.yaml"]
    listing = api.ok("GET", f"{REPO}/contents/recipes/gpcp?ref={BRANCH}", auth=api.user(OTTO))
    assert sorted(entry["name"] for entry in listing) == ["meta.yaml", "recipe.py"]
    missing = api.call("GET", f"{REPO}/contents/recipes/gpcp/meta.yaml", auth=api.user(OTTO))
    assert missing.status == 404  # not on main yet


def test_a_comment_sends_issue_comment_created(api: SimAPI) -> None:
    open_pull(api)
    body = {"body": "/run gpcp"}
    comment = api.ok("POST", f"{REPO}/issues/1/comments", body, auth=api.user(OTTO), status=201)
    assert (comment["body"], comment["user"]["login"]) == ("/run gpcp", OTTO)
    (created,) = api.events_of("issue_comment", "created")
    assert_webhook("issue_comment", created.payload)
    assert created.payload["comment"]["id"] == comment["id"]
    assert created.payload["issue"]["number"] == 1
    assert created.payload["issue"]["pull_request"]["url"] == f"{URLS.api}{REPO}/pulls/1"
    listed = api.ok("GET", f"{REPO}/issues/1/comments", auth=api.user(DANA))
    assert [c["id"] for c in listed] == [comment["id"]]
    assert api.call("POST", f"{REPO}/issues/9/comments", body, auth=api.user(OTTO)).status == 404


def test_reacting_twice_answers_the_same_reaction(api: SimAPI) -> None:
    open_pull(api)
    body = {"body": "/run gpcp"}
    comment = api.ok("POST", f"{REPO}/issues/1/comments", body, auth=api.user(MAX), status=201)
    path = f"{REPO}/issues/comments/{comment['id']}/reactions"
    bot = api.installation()
    first = api.ok("POST", path, {"content": "eyes"}, auth=bot, status=201)
    again = api.ok("POST", path, {"content": "eyes"}, auth=bot, status=200)
    assert again["id"] == first["id"]
    api.ok("POST", path, {"content": "rocket"}, auth=bot, status=201)
    listed = api.ok("GET", path, auth=api.user(MAX))
    assert [r["content"] for r in listed] == ["eyes", "rocket"]
    assert {r["user"]["login"] for r in listed} == {"pangeo-forge[bot]"}


def test_check_runs_are_created_patched_and_listed_by_branch_or_sha(api: SimAPI) -> None:
    head = open_pull(api)["head"]["sha"]
    bot = api.installation()
    body = {"name": "pangeo-forge", "head_sha": head, "status": "in_progress"}
    run = api.ok("POST", f"{REPO}/check-runs", body, auth=bot, status=201)
    assert (run["status"], run["conclusion"], run["head_sha"]) == ("in_progress", None, head)
    done = {"conclusion": "success", "output": {"title": "1 recipe", "summary": "ok"}}
    patched = api.ok("PATCH", f"{REPO}/check-runs/{run['id']}", done, auth=bot)
    assert (patched["status"], patched["conclusion"]) == ("completed", "success")
    assert patched["output"]["title"] == "1 recipe"
    for ref in (BRANCH, head):
        listed = api.ok("GET", f"{REPO}/commits/{ref}/check-runs", auth=bot)
        assert listed["total_count"] == 1
        assert listed["check_runs"][0]["id"] == run["id"]
    on_main = api.ok("GET", f"{REPO}/commits/main/check-runs", auth=bot)
    assert on_main["check_runs"] == []
    unknown = {"name": "pangeo-forge", "head_sha": "0" * 40}
    assert api.call("POST", f"{REPO}/check-runs", unknown, auth=bot).status == 422


def test_deployments_statuses_and_environments(api: SimAPI) -> None:
    bot = api.installation()
    sha = main_sha(api)
    body = {"ref": "main", "environment": "gpcp", "auto_merge": False, "required_contexts": []}
    deployment = api.ok("POST", f"{REPO}/deployments", body, auth=bot, status=201)
    assert (deployment["sha"], deployment["environment"]) == (sha, "gpcp")
    statuses = f"{REPO}/deployments/{deployment['id']}/statuses"
    for state in ("in_progress", "success"):
        body = {"state": state, "environment_url": "http://data.test/gpcp"}
        api.ok("POST", statuses, body, auth=bot, status=201)
    listed = api.ok("GET", statuses, auth=bot)
    assert [s["state"] for s in listed] == ["success", "in_progress"]  # newest first
    found = api.ok("GET", f"{REPO}/deployments?environment=gpcp", auth=bot)
    assert [d["id"] for d in found] == [deployment["id"]]
    assert api.ok("GET", f"{REPO}/deployments?environment=other", auth=bot) == []
    environment = api.ok("GET", f"{REPO}/environments/gpcp", auth=bot)
    assert environment["name"] == "gpcp"
    api.ok("PUT", f"{REPO}/environments/staging", {"wait_timer": 0}, auth=bot)
    api.ok("DELETE", f"{REPO}/environments/staging", auth=bot, status=204)
    assert api.call("GET", f"{REPO}/environments/staging", auth=bot).status == 404
    # GitHub refuses to delete a deployment that is still active.
    assert api.call("DELETE", f"{REPO}/deployments/{deployment['id']}", auth=bot).status == 422
    missing = {"ref": "no-such-branch", "environment": "gpcp"}
    assert api.call("POST", f"{REPO}/deployments", missing, auth=bot).status == 422


def test_permissions_of_maintainer_contributor_and_outsider(api: SimAPI) -> None:
    bot = api.installation()
    for login, expected in ((MAX, "admin"), (OTTO, "read"), (DANA, "read")):
        path = f"{REPO}/collaborators/{login}/permission"
        answer = api.ok("GET", path, auth=bot)
        assert (answer["permission"], answer["user"]["login"]) == (expected, login)


def test_only_a_maintainer_merges_and_pushes_to_main(api: SimAPI) -> None:
    pull = open_pull(api)
    otto = api.user(OTTO)
    refused = api.call("PUT", f"{REPO}/pulls/1/merge", {}, auth=otto)
    assert refused.status == 403
    push = {"message": "sneak", "content": b64("x\n"), "branch": "main"}
    assert api.call("PUT", f"{REPO}/contents/sneak.txt", push, auth=otto).status == 403
    move = {"sha": pull["head"]["sha"], "force": True}
    assert api.call("PATCH", f"{REPO}/git/refs/heads/main", move, auth=otto).status == 403
    assert api.events_of("pull_request", "closed") == []
    merged = api.ok(
        "PUT", f"{REPO}/pulls/1/merge", {"sha": pull["head"]["sha"]}, auth=api.user(MAX)
    )
    assert merged["merged"] is True
    (closed,) = api.events_of("pull_request", "closed")
    assert_webhook("pull_request", closed.payload)
    assert closed.payload["pull_request"]["merged"] is True
    assert closed.payload["pull_request"]["merge_commit_sha"] == merged["sha"]
    assert closed.payload["sender"]["login"] == MAX
    assert api.call("GET", f"{REPO}/pulls/1/merge", auth=otto).status == 204
    # The merge commit joins main and the head; main now holds the recipe.
    main = api.ok("GET", f"{REPO}/branches/main", auth=otto)
    assert main["commit"]["sha"] == merged["sha"]
    parents = [p["sha"] for p in main["commit"]["parents"]]
    assert parents == [pull["base"]["sha"], pull["head"]["sha"]]
    for path, text in RECIPE.items():
        assert unb64(api.ok("GET", f"{REPO}/contents/{path}", auth=otto)["content"]) == text
    again = api.call("PUT", f"{REPO}/pulls/1/merge", {}, auth=api.user(MAX))
    assert again.status == 405


def test_a_deleted_branch_leaves_the_head_readable_by_sha(api: SimAPI) -> None:
    head = open_pull(api)["head"]["sha"]
    api.ok("PUT", f"{REPO}/pulls/1/merge", {}, auth=api.user(MAX))
    api.ok("DELETE", f"{REPO}/git/refs/heads/{BRANCH}", auth=api.installation(), status=204)
    assert api.call("GET", f"{REPO}/branches/{BRANCH}", auth=api.user(DANA)).status == 404
    meta = api.ok("GET", f"{REPO}/contents/recipes/gpcp/meta.yaml?ref={head}", auth=api.user(DANA))
    assert unb64(meta["content"]) == RECIPE["recipes/gpcp/meta.yaml"]
    gone = api.call("DELETE", f"{REPO}/git/refs/heads/{BRANCH}", auth=api.installation())
    assert gone.status == 422


def test_a_squash_merge_has_one_parent_and_keeps_the_head(api: SimAPI) -> None:
    pull = open_pull(api)
    squash = {"merge_method": "squash", "commit_title": "Add gpcp (#1)"}
    merged = api.ok("PUT", f"{REPO}/pulls/1/merge", squash, auth=api.installation())
    main = api.ok("GET", f"{REPO}/branches/main", auth=api.user(DANA))["commit"]
    assert main["sha"] == merged["sha"]
    assert [p["sha"] for p in main["parents"]] == [pull["base"]["sha"]]
    assert main["commit"]["message"] == "Add gpcp (#1)"
    api.ok("DELETE", f"{REPO}/git/refs/heads/{BRANCH}", auth=api.installation(), status=204)
    head = pull["head"]["sha"]
    meta = api.ok("GET", f"{REPO}/contents/recipes/gpcp/meta.yaml?ref={head}", auth=api.user(DANA))
    assert unb64(meta["content"]) == RECIPE["recipes/gpcp/meta.yaml"]


def test_the_app_opens_a_pull_request_of_its_own(api: SimAPI) -> None:
    bot = api.installation()
    ref = {"ref": "refs/heads/pangeo-forge/cleanup", "sha": main_sha(api)}
    api.ok("POST", f"{REPO}/git/refs", ref, auth=bot, status=201)
    body = {"message": "Clean up", "content": b64("done\n"), "branch": "pangeo-forge/cleanup"}
    api.ok("PUT", f"{REPO}/contents/CLEANUP.md", body, auth=bot, status=201)
    opened = {"title": "Clean up", "head": f"{ORG}:pangeo-forge/cleanup", "base": "main"}
    pull = api.ok("POST", f"{REPO}/pulls", opened, auth=bot, status=201)
    assert (pull["user"]["login"], pull["user"]["type"]) == ("pangeo-forge[bot]", "Bot")
    (event,) = api.events_of("pull_request", "opened")
    assert_webhook("pull_request", event.payload)
    found = api.ok("GET", f"{REPO}/pulls?head={ORG}:pangeo-forge/cleanup&state=all", auth=bot)
    assert [p["number"] for p in found] == [pull["number"]]
    assert api.ok("GET", f"{REPO}/pulls?head={ORG}:other", auth=bot) == []
    again = api.call("POST", f"{REPO}/pulls", opened, auth=bot)
    assert again.status == 422  # one open pull request per branch


def test_merging_with_a_stale_sha_is_a_conflict(api: SimAPI) -> None:
    pull = open_pull(api)
    put_file(api, "recipes/gpcp/late.txt", "late\n", branch=BRANCH)
    stale = {"sha": pull["head"]["sha"]}
    assert api.call("PUT", f"{REPO}/pulls/1/merge", stale, auth=api.user(MAX)).status == 409


def test_the_app_creates_repositories_in_its_organisation_only(api: SimAPI) -> None:
    bot = api.installation()
    body = {"name": "gpcp-feedstock", "auto_init": True, "description": "GPCP"}
    repo = api.ok("POST", f"/orgs/{ORG}/repos", body, auth=bot, status=201)
    assert (repo["full_name"], repo["default_branch"]) == (f"{ORG}/gpcp-feedstock", "main")
    readme = api.ok("GET", f"/repos/{ORG}/gpcp-feedstock/contents/README.md", auth=bot)
    assert "gpcp-feedstock" in unb64(readme["content"])
    assert api.call("POST", f"/orgs/{ORG}/repos", body, auth=bot).status == 422  # taken
    elsewhere = api.call("POST", "/orgs/someone-else/repos", body, auth=bot)
    assert elsewhere.status == 403
    listed = api.ok("GET", "/installation/repositories", auth=bot)
    names = sorted(r["name"] for r in listed["repositories"])
    assert names == ["gpcp-feedstock", "staged-recipes"]


def test_the_app_moves_a_merged_recipe_into_a_new_feedstock(api: SimAPI) -> None:
    """What the service does after a staged-recipes merge, call for call."""
    open_pull(api)
    api.ok("PUT", f"{REPO}/pulls/1/merge", {}, auth=api.user(MAX))
    bot = api.installation()
    created = {"name": "gpcp-feedstock", "auto_init": False}
    api.ok("POST", f"/orgs/{ORG}/repos", created, auth=bot, status=201)
    feedstock = f"/repos/{ORG}/gpcp-feedstock"
    assert api.call("GET", f"{feedstock}/branches/main", auth=bot).status == 404  # empty
    for path, text in RECIPE.items():
        moved = path.replace("recipes/gpcp", "feedstock")
        body = {"message": f"Add {moved}", "content": b64(text)}
        api.ok("PUT", f"{feedstock}/contents/{moved}", body, auth=bot, status=201)
    listing = api.ok("GET", f"{feedstock}/contents/feedstock", auth=bot)
    assert sorted(e["name"] for e in listing) == ["meta.yaml", "recipe.py"]
    for path in RECIPE:
        current = api.ok("GET", f"{REPO}/contents/{path}", auth=bot)
        body = {"message": f"Remove {path}", "sha": current["sha"]}
        api.ok("DELETE", f"{REPO}/contents/{path}", body, auth=bot)
    assert api.call("GET", f"{REPO}/contents/recipes", auth=bot).status == 404
    assert api.ok("GET", f"{REPO}/contents/README.md", auth=bot)["name"] == "README.md"
    # Pushes to main move no pull request: no webhook beyond the merge's.
    assert [e.action for e in api.events_of("pull_request")] == ["opened", "closed"]


def test_a_comment_by_the_app_is_sent_too(api: SimAPI) -> None:
    open_pull(api)
    body = {"body": "Recipe run queued"}
    api.ok("POST", f"{REPO}/issues/1/comments", body, auth=api.installation(), status=201)
    (created,) = api.events_of("issue_comment", "created")
    assert_webhook("issue_comment", created.payload)
    assert created.payload["sender"]["login"] == "pangeo-forge[bot]"
    assert created.payload["sender"]["type"] == "Bot"


def test_updating_a_file_needs_its_current_sha(api: SimAPI) -> None:
    max_ = api.user(MAX)
    path = f"{REPO}/contents/README.md"
    current = api.ok("GET", path, auth=max_)
    body = {"message": "Reword", "content": b64("# staged-recipes\nNew words.\n")}
    assert api.call("PUT", path, body, auth=max_).status == 422
    wrong = api.call("PUT", path, {**body, "sha": "1" * 40}, auth=max_)
    assert wrong.status == 409
    updated = api.ok("PUT", path, {**body, "sha": current["sha"]}, auth=max_)
    assert updated["content"]["sha"] != current["sha"]
    assert unb64(api.ok("GET", path, auth=max_)["content"]) == "# staged-recipes\nNew words.\n"
    deleted = {"message": "Remove", "sha": updated["content"]["sha"]}
    api.ok("DELETE", path, deleted, auth=max_)
    assert api.call("GET", path, auth=max_).status == 404


def test_closing_and_reopening_send_their_events(api: SimAPI) -> None:
    open_pull(api)
    dana = api.user(DANA)
    closed = api.ok("PATCH", f"{REPO}/pulls/1", {"state": "closed"}, auth=dana)
    assert (closed["state"], closed["merged"]) == ("closed", False)
    reopened = api.ok("PATCH", f"{REPO}/pulls/1", {"state": "open"}, auth=dana)
    assert reopened["state"] == "open"
    actions = [e.action for e in api.events_of("pull_request")]
    assert actions == ["opened", "closed", "reopened"]
    for event in api.events_of("pull_request"):
        assert_webhook("pull_request", event.payload)
    assert api.events_of("pull_request", "closed")[0].payload["pull_request"]["merged"] is False


def test_only_the_author_or_a_maintainer_closes_a_pull_request(api: SimAPI) -> None:
    open_pull(api)
    refused = api.call("PATCH", f"{REPO}/pulls/1", {"state": "closed"}, auth=api.user(OTTO))
    assert refused.status == 403
    assert api.ok("PATCH", f"{REPO}/pulls/1", {"state": "closed"}, auth=api.user(MAX))["state"] == (
        "closed"
    )


def test_a_force_push_to_the_branch_sends_synchronize(api: SimAPI) -> None:
    pull = open_pull(api)
    rewind = {"sha": pull["base"]["sha"]}
    moved = api.call("PATCH", f"{REPO}/git/refs/heads/{BRANCH}", rewind, auth=api.user(DANA))
    assert moved.status == 422  # not a fast forward
    put_file(api, "recipes/gpcp/extra.txt", "more\n", branch=BRANCH)
    forced = {"sha": pull["head"]["sha"], "force": True}
    api.ok("PATCH", f"{REPO}/git/refs/heads/{BRANCH}", forced, auth=api.user(DANA))
    last = api.events_of("pull_request", "synchronize")[-1]
    assert last.payload["after"] == pull["head"]["sha"]
    assert_webhook("pull_request", last.payload)


def test_the_app_reads_its_installation_and_configures_its_hook(api: SimAPI) -> None:
    app = api.app()
    installation = api.ok("GET", f"{REPO}/installation", auth=app)
    assert (installation["id"], installation["account"]["login"]) == (1, ORG)
    assert [i["id"] for i in api.ok("GET", "/app/installations", auth=app)] == [1]
    hook = {"url": "http://service.test/github/hooks/"}
    assert api.ok("PATCH", "/app/hook/config", hook, auth=app)["url"] == hook["url"]
    assert api.ok("GET", "/app/hook/config", auth=app)["url"] == hook["url"]
    missing = api.call("POST", "/app/installations/77/access_tokens", auth=app)
    assert missing.status == 404


def test_unknown_commits_are_refused(api: SimAPI) -> None:
    bot = api.installation()
    unknown = "0" * 40
    assert api.call("GET", f"{REPO}/commits/{unknown}/check-runs", auth=bot).status == 422
    assert api.call("GET", f"{REPO}/commits/no-branch/check-runs", auth=bot).status == 422
    status = {"state": "success", "context": "pangeo-forge"}
    assert api.call("POST", f"{REPO}/statuses/{unknown}", status, auth=bot).status == 422
    created = api.ok("POST", f"{REPO}/statuses/{main_sha(api)}", status, auth=bot, status=201)
    assert created["state"] == "success"


def test_the_pull_request_head_can_be_cloned(api: SimAPI, tmp_path: Path) -> None:
    head = open_pull(api)["head"]["sha"]
    checkout = tmp_path / "checkout"
    url = api.sim.git.clone_url(ORG, "staged-recipes")
    git = ["git", "-c", "advice.detachedHead=false"]
    subprocess.run([*git, "clone", "--quiet", url, str(checkout)], check=True)
    subprocess.run([*git, "-C", str(checkout), "checkout", "--quiet", head], check=True)
    for path, text in RECIPE.items():
        assert (checkout / path).read_text() == text


@pytest.mark.parametrize("login", [OTTO, DANA])
def test_anyone_may_push_a_branch_of_their_own(api: SimAPI, login: str) -> None:
    ref = {"ref": f"refs/heads/{login}-work", "sha": main_sha(api)}
    api.ok("POST", f"{REPO}/git/refs", ref, auth=api.user(login), status=201)
    put_file(api, "notes.txt", "hello\n", branch=f"{login}-work", login=login)
    assert api.events_of("pull_request") == []  # no pull request, no webhook
