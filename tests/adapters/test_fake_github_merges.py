"""The fake GitHub creates repositories, branches, files and pull requests and merges them as
GitHub does, through the real client: what the staged-recipes and "PR merged" flows need."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pangeo_forge_orchestrator.adapters.github import GitHubApp, GitHubClient
from pangeo_forge_orchestrator.adapters.github.client import RETRY_ATTEMPTS
from pangeo_forge_orchestrator.adapters.github.errors import (
    Conflict,
    Forbidden,
    GitHubError,
    GitHubUnavailable,
    NotFound,
    ValidationFailed,
)
from tests.adapters.conftest import RecordedSleep
from tests.fake_github import FakeGitHub, FakeRepo, blob_sha
from tests.fake_github.routes import git, orgs, pulls_write

pytestmark = pytest.mark.anyio
ORG = "pangeo-forge"
INSTALLATION = 7
STAGED = f"{ORG}/staged-recipes"
NAMES = {"owner": ORG, "repo": "staged-recipes"}
CONTENTS = "/repos/{owner}/{repo}/contents/{+path}"
PULLS = "/repos/{owner}/{repo}/pulls"
MERGE = "/repos/{owner}/{repo}/pulls/{pull_number}/merge"
REFS = "/repos/{owner}/{repo}/git/refs"
REF = "/repos/{owner}/{repo}/git/refs/{+ref}"
CREATE_IN_ORG = {
    "name": "gpcp-feedstock",
    "description": "Pangeo Forge feedstock for gpcp.",
    "homepage": "https://pangeo-forge.org",
    "private": False,
    "has_issues": True,
    "has_projects": False,
    "has_wiki": False,
    "auto_init": True,
    "gitignore_template": "Python",
    "license_template": "apache-2.0",
}


@pytest.fixture
def staged(fake_github: FakeGitHub) -> FakeRepo:
    fake_github.add_installation(INSTALLATION, account=ORG)
    repo = fake_github.add_repo(STAGED, installation_id=INSTALLATION)
    repo.put_file("README.md", "staged recipes\n")
    repo.put_file("recipes/gpcp/meta.yaml", "title: GPCP\n")
    repo.put_file("recipes/gpcp/recipe.py", "recipe = 1\n")
    return repo


@pytest.fixture
def client(github_app: GitHubApp, staged: FakeRepo) -> GitHubClient:
    return github_app.installation_client(INSTALLATION)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def branch_from_main(client: GitHubClient, repo: FakeRepo, branch: str) -> Any:
    return await client.post(
        REFS,
        NAMES,
        data={"ref": f"refs/heads/{branch}", "sha": repo.branches["main"]},
    )


async def put(client: GitHubClient, path: str, text: str, branch: str, **extra: str) -> Any:
    return await client.put(
        CONTENTS,
        {**NAMES, "path": path},
        data={"message": f"Add {path}", "content": b64(text), "branch": branch, **extra},
    )


async def open_pull(client: GitHubClient, head: str, title: str = "Add gpcp") -> Any:
    return await client.post(PULLS, NAMES, data={"title": title, "head": head, "base": "main"})


# ---- repositories --------------------------------------------------------------------------


async def test_create_in_org_makes_an_initialised_repository_once(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    created = await client.post("/orgs/{org}/repos", {"org": ORG}, data=CREATE_IN_ORG)

    repo = fake_github.repo(f"{ORG}/gpcp-feedstock")
    assert created["full_name"] == repo.full_name
    assert created["description"] == "Pangeo Forge feedstock for gpcp."
    assert created["homepage"] == "https://pangeo-forge.org"
    assert repo.installation_id == INSTALLATION
    assert sorted(repo.tree("main") or {}) == [".gitignore", "LICENSE", "README.md"]
    assert b"Python" in (repo.tree("main") or {})[".gitignore"]
    fetched = await client.getitem(
        "/repos/{owner}/{repo}", {"owner": ORG, "repo": "gpcp-feedstock"}
    )
    assert fetched["has_wiki"] is False

    with pytest.raises(ValidationFailed) as again:
        await client.post("/orgs/{org}/repos", {"org": ORG}, data=CREATE_IN_ORG)
    assert again.value.errors == (orgs.NAME_TAKEN,)
    assert [r for r in fake_github.repos if r.endswith("gpcp-feedstock")] == [repo.full_name]


async def test_repository_without_auto_init_has_no_branch_until_its_first_file(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    await client.post("/orgs/{org}/repos", {"org": ORG}, data={"name": "empty-feedstock"})
    repo = fake_github.repo(f"{ORG}/empty-feedstock")
    assert repo.branches == {}

    names = {"owner": ORG, "repo": "empty-feedstock", "path": "README.md"}
    written = await client.put(CONTENTS, names, data={"message": "first", "content": b64("hi")})

    assert repo.branches == {"main": written["commit"]["sha"]}


async def test_an_installation_cannot_create_repositories_elsewhere(
    client: GitHubClient,
) -> None:
    with pytest.raises(Forbidden, match=orgs.NOT_ACCESSIBLE):
        await client.post("/orgs/{org}/repos", {"org": "someone-else"}, data={"name": "x"})
    with pytest.raises(Forbidden, match=orgs.NOT_ACCESSIBLE):
        await client.post("/user/repos", data={"name": "x"})


async def test_org_repositories_list_newest_first(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    await client.post("/orgs/{org}/repos", {"org": ORG}, data=CREATE_IN_ORG)
    fake_github.add_repo("elsewhere/other", installation_id=None)

    listed = [r["name"] async for r in client.getiter("/orgs/{org}/repos", {"org": ORG})]

    assert listed == ["gpcp-feedstock", "staged-recipes"]


async def test_patch_repository_settings_and_refuse_an_unknown_default_branch(
    client: GitHubClient, staged: FakeRepo
) -> None:
    updated = await client.patch(
        "/repos/{owner}/{repo}", NAMES, data={"description": "Recipes", "has_wiki": False}
    )
    assert (updated["description"], updated["has_wiki"]) == ("Recipes", False)
    assert (await client.getitem("/repos/{owner}/{repo}", NAMES))["description"] == "Recipes"

    with pytest.raises(ValidationFailed):
        await client.patch("/repos/{owner}/{repo}", NAMES, data={"default_branch": "nope"})
    assert staged.default_branch == "main"


# ---- git refs ------------------------------------------------------------------------------


async def test_branch_is_created_from_a_sha_once(client: GitHubClient, staged: FakeRepo) -> None:
    main_sha = staged.branches["main"]
    created = await branch_from_main(client, staged, "create-feedstock")

    assert created["ref"] == "refs/heads/create-feedstock"
    assert created["object"]["sha"] == main_sha == staged.branches["create-feedstock"]
    branch = await client.getitem(
        "/repos/{owner}/{repo}/branches/{branch}", {**NAMES, "branch": "create-feedstock"}
    )
    assert branch["commit"]["sha"] == main_sha
    with pytest.raises(ValidationFailed, match=git.REF_EXISTS):
        await branch_from_main(client, staged, "create-feedstock")
    with pytest.raises(ValidationFailed, match=git.OBJECT_MISSING):
        await client.post(REFS, NAMES, data={"ref": "refs/heads/x", "sha": "f" * 40})


async def test_branch_moves_forward_unless_forced_and_is_deleted_once(
    client: GitHubClient, staged: FakeRepo
) -> None:
    main_sha = staged.branches["main"]
    await branch_from_main(client, staged, "work")
    ahead = (await put(client, "a.txt", "a", "work"))["commit"]["sha"]
    await branch_from_main(client, staged, "other")
    ref = {**NAMES, "ref": "heads/other"}

    await client.patch(REF, ref, data={"sha": ahead})
    assert staged.branches["other"] == ahead
    with pytest.raises(ValidationFailed, match=git.NOT_FAST_FORWARD):
        await client.patch(REF, ref, data={"sha": main_sha})
    await client.patch(REF, ref, data={"sha": main_sha, "force": True})
    assert staged.branches["other"] == main_sha

    assert await client.delete(REF, {**NAMES, "ref": "heads/work"}) is None
    assert "work" not in staged.branches
    assert (staged.tree(ahead) or {})["a.txt"] == b"a"
    with pytest.raises(ValidationFailed, match=git.REF_MISSING):
        await client.delete(REF, {**NAMES, "ref": "heads/work"})


# ---- contents ------------------------------------------------------------------------------


async def test_files_are_committed_per_branch_and_readable_at_the_commit(
    client: GitHubClient, staged: FakeRepo
) -> None:
    await branch_from_main(client, staged, "b")
    written = await put(client, "feedstock/meta.yaml", "title: GPCP\n", "b")

    sha = written["commit"]["sha"]
    assert written["content"]["sha"] == blob_sha(b"title: GPCP\n")
    assert staged.branches["b"] == sha
    assert staged.commits[sha]["parents"] == [staged.branches["main"]]
    at = {**NAMES, "path": "feedstock/meta.yaml"}
    read = await client.getitem(CONTENTS + "{?ref}", {**at, "ref": sha})
    assert base64.b64decode(read["content"]) == b"title: GPCP\n"
    with pytest.raises(NotFound):
        await client.getitem(CONTENTS + "{?ref}", {**at, "ref": "main"})

    listing = await client.getitem(CONTENTS, {**NAMES, "path": "recipes/gpcp"})
    assert [(e["type"], e["path"]) for e in listing] == [
        ("file", "recipes/gpcp/meta.yaml"),
        ("file", "recipes/gpcp/recipe.py"),
    ]


async def test_updating_a_file_needs_its_current_blob_sha(
    client: GitHubClient, staged: FakeRepo
) -> None:
    old = blob_sha(b"title: GPCP\n")
    path, branch = "recipes/gpcp/meta.yaml", "main"

    with pytest.raises(ValidationFailed, match='"sha" wasn\'t supplied'):
        await put(client, path, "title: new\n", branch)
    with pytest.raises(Conflict, match="does not match"):
        await put(client, path, "title: new\n", branch, sha="0" * 40)
    await put(client, path, "title: new\n", branch, sha=old)

    assert (staged.tree("main") or {})[path] == b"title: new\n"


async def test_deleting_a_file_commits_its_removal(client: GitHubClient, staged: FakeRepo) -> None:
    path = {**NAMES, "path": "recipes/gpcp/recipe.py"}
    body = {"message": "Remove", "branch": "main"}
    with pytest.raises(Conflict):
        await client.delete(CONTENTS, path, data={**body, "sha": "0" * 40})

    removed = await client.delete(CONTENTS, path, data={**body, "sha": blob_sha(b"recipe = 1\n")})

    assert removed["content"] is None
    assert staged.branches["main"] == removed["commit"]["sha"]
    assert "recipes/gpcp/recipe.py" not in (staged.tree("main") or {})
    with pytest.raises(NotFound):
        await client.delete(CONTENTS, path, data={**body, "sha": "0" * 40})


# ---- pull requests -------------------------------------------------------------------------


async def test_merging_a_pull_request_lands_its_files_on_the_base_branch(
    client: GitHubClient, staged: FakeRepo
) -> None:
    await branch_from_main(client, staged, "create-feedstock")
    await put(client, "feedstock/meta.yaml", "title: GPCP\n", "create-feedstock")
    pull = await open_pull(client, "create-feedstock")
    number = pull["number"]
    files = [f async for f in client.getiter(PULLS + "/{n}/files", {**NAMES, "n": number})]
    assert [(f["filename"], f["status"]) for f in files] == [("feedstock/meta.yaml", "added")]
    assert (await client.getitem(PULLS + "/{n}", {**NAMES, "n": number}))["state"] == "open"

    merged = await client.put(
        MERGE, {**NAMES, "pull_number": number}, data={"commit_title": "Create gpcp-feedstock"}
    )

    assert merged == {"sha": merged["sha"], "merged": True, "message": pulls_write.MERGED}
    assert staged.branches["main"] == merged["sha"]
    assert staged.merged == [number]
    assert staged.pulls[number]["merge_commit_sha"] == merged["sha"]
    assert staged.commits[merged["sha"]]["message"] == "Create gpcp-feedstock"
    meta = await client.getitem(
        CONTENTS + "{?ref}", {**NAMES, "path": "feedstock/meta.yaml", "ref": merged["sha"]}
    )
    assert base64.b64decode(meta["content"]) == b"title: GPCP\n"
    assert await client.getitem(MERGE, {**NAMES, "pull_number": number}) is None
    with pytest.raises(GitHubError) as again:
        await client.put(MERGE, {**NAMES, "pull_number": number}, data={})
    assert (again.value.status, again.value.message) == (405, pulls_write.NOT_MERGEABLE)


async def test_cleanup_pull_request_removes_the_recipe_from_the_base_branch(
    client: GitHubClient, staged: FakeRepo
) -> None:
    await branch_from_main(client, staged, "cleanup-gpcp")
    for path, text in (
        ("recipes/gpcp/meta.yaml", "title: GPCP\n"),
        ("recipes/gpcp/recipe.py", "recipe = 1\n"),
    ):
        await client.delete(
            CONTENTS,
            {**NAMES, "path": path},
            data={"message": "Remove", "sha": blob_sha(text.encode()), "branch": "cleanup-gpcp"},
        )
    pull = await open_pull(client, "cleanup-gpcp", title="Cleanup gpcp")
    assert {f["status"] for f in staged.pull_files[pull["number"]]} == {"removed"}
    staged.put_file("recipes/other/meta.yaml", "title: other\n")

    await client.put(MERGE, {**NAMES, "pull_number": pull["number"]}, data={})

    assert sorted(staged.tree("main") or {}) == ["README.md", "recipes/other/meta.yaml"]


async def test_second_pull_request_for_a_head_and_one_without_commits_are_refused(
    client: GitHubClient, staged: FakeRepo
) -> None:
    await branch_from_main(client, staged, "same")
    with pytest.raises(ValidationFailed) as empty:
        await open_pull(client, "same")
    assert empty.value.errors == ("No commits between main and same",)

    await put(client, "x.txt", "x", "same")
    first = await open_pull(client, f"{ORG}:same")
    with pytest.raises(ValidationFailed) as twice:
        await open_pull(client, "same")
    assert twice.value.errors == (f"A pull request already exists for {ORG}:same.",)
    assert list(staged.pulls) == [first["number"]]


async def test_pull_request_follows_new_commits_on_its_head(
    client: GitHubClient, staged: FakeRepo
) -> None:
    await branch_from_main(client, staged, "b")
    await put(client, "one.txt", "1", "b")
    pull = await open_pull(client, "b")
    later = await put(client, "two.txt", "2", "b")

    assert staged.pulls[pull["number"]]["head"]["sha"] == later["commit"]["sha"]
    assert [f["filename"] for f in staged.pull_files[pull["number"]]] == ["one.txt", "two.txt"]
    with pytest.raises(Conflict, match="Head branch was modified"):
        await client.put(
            MERGE, {**NAMES, "pull_number": pull["number"]}, data={"sha": pull["head"]["sha"]}
        )


async def test_pulls_filter_by_state_and_owner_prefixed_head(
    client: GitHubClient, staged: FakeRepo
) -> None:
    for branch in ("a", "b"):
        await branch_from_main(client, staged, branch)
        await put(client, f"{branch}.txt", branch, branch)
        await open_pull(client, branch)
    await client.patch(PULLS + "/{n}", {**NAMES, "n": 1}, data={"state": "closed"})

    async def numbers(query: str) -> list[int]:
        return [p["number"] async for p in client.getiter(PULLS + query, NAMES)]

    assert await numbers("?state=all") == [2, 1]
    assert await numbers("") == [2]
    assert await numbers(f"?state=all&head={ORG}:a") == [1]
    # As on GitHub, a head without its owner filters nothing.
    assert await numbers("?state=all&head=a") == [2, 1]
    with pytest.raises(GitHubError) as closed:
        await client.put(MERGE, {**NAMES, "pull_number": 1}, data={})
    assert closed.value.status == 405
    assert staged.merged == []


async def test_unmergeable_pull_request_is_refused(client: GitHubClient, staged: FakeRepo) -> None:
    await branch_from_main(client, staged, "b")
    await put(client, "x.txt", "x", "b")
    pull = await open_pull(client, "b")
    staged.pulls[pull["number"]]["mergeable"] = False

    with pytest.raises(GitHubError, match=pulls_write.NOT_MERGEABLE):
        await client.put(MERGE, {**NAMES, "pull_number": pull["number"]}, data={})
    assert staged.merged == []


async def test_one_injected_502_on_create_pull_is_retried_into_one_pull_request(
    client: GitHubClient, staged: FakeRepo, fake_github: FakeGitHub, sleeps: RecordedSleep
) -> None:
    await branch_from_main(client, staged, "b")
    await put(client, "x.txt", "x", "b")
    fake_github.fail_next(template="/repos/{owner}/{repo}/pulls", method="POST")

    await open_pull(client, "b")

    assert [c.status for c in fake_github.calls_to("POST", "/repos/{owner}/{repo}/pulls")] == [
        502,
        201,
    ]
    assert len(sleeps.delays) == 1
    assert list(staged.pulls) == [1]


async def test_create_pull_failing_every_attempt_creates_nothing(
    client: GitHubClient, staged: FakeRepo, fake_github: FakeGitHub
) -> None:
    await branch_from_main(client, staged, "b")
    await put(client, "x.txt", "x", "b")
    fake_github.fail_next(template="/repos/{owner}/{repo}/pulls", times=RETRY_ATTEMPTS)

    with pytest.raises(GitHubUnavailable):
        await open_pull(client, "b")

    assert staged.pulls == {}
    await open_pull(client, "b")
    assert list(staged.pulls) == [1]


# ---- deployments and environments ----------------------------------------------------------


async def test_deployments_filter_by_environment_sha_and_ref(
    client: GitHubClient, staged: FakeRepo
) -> None:
    sha = staged.branches["main"]
    url = "/repos/{owner}/{repo}/deployments"
    body = {"required_contexts": [], "auto_merge": False}
    first = await client.post(url, NAMES, data={**body, "ref": sha, "environment": "gpcp"})
    await client.post(url, NAMES, data={**body, "ref": "main", "environment": "other"})
    statuses = url + "/{id}/statuses"
    for state in ("in_progress", "success"):
        await client.post(statuses, {**NAMES, "id": first["id"]}, data={"state": state})

    async def environments(query: str) -> list[str]:
        return [d["environment"] async for d in client.getiter(url + query, NAMES)]

    assert await environments("") == ["other", "gpcp"]
    assert await environments("?environment=gpcp") == ["gpcp"]
    assert await environments(f"?sha={sha}") == ["other", "gpcp"]
    assert await environments("?ref=main") == ["other"]
    listed = [s["state"] async for s in client.getiter(statuses, {**NAMES, "id": first["id"]})]
    assert listed == ["success", "in_progress"]


async def test_environments_exist_once_put_or_deployed_to(
    client: GitHubClient, staged: FakeRepo
) -> None:
    url = "/repos/{owner}/{repo}/environments/{environment_name}"
    with pytest.raises(NotFound):
        await client.getitem(url, {**NAMES, "environment_name": "gpcp"})

    put_env = await client.put(url, {**NAMES, "environment_name": "gpcp"}, data={"wait_timer": 5})
    await client.post(
        "/repos/{owner}/{repo}/deployments",
        NAMES,
        data={"ref": "main", "environment": "deployed", "required_contexts": []},
    )

    got = await client.getitem(url, {**NAMES, "environment_name": "gpcp"})
    assert got == put_env
    assert got["protection_rules"][0]["wait_timer"] == 5
    deployed = await client.getitem(url, {**NAMES, "environment_name": "deployed"})
    assert deployed["name"] == "deployed"
    assert sorted(staged.environments) == ["deployed", "gpcp"]
