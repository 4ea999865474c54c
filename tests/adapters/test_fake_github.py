"""The fake GitHub fails loudly on requests GitHub would refuse, and behaves like GitHub."""

from __future__ import annotations

import httpx
import pytest

from pangeo_forge_orchestrator.adapters.github import GitHubApp, Unauthorized
from tests.conftest import GITHUB_APP_ID, github_app_settings
from tests.fake_github import AppKey, FakeGitHub, blob_sha

pytestmark = pytest.mark.anyio
REPO = "pangeo-forge/gpcp-feedstock"
SHA = "c" * 40


@pytest.fixture
def loose_fake() -> FakeGitHub:
    """A fake outside the `fake_github` fixture, whose violations these tests expect."""
    return FakeGitHub(app_id=GITHUB_APP_ID, public_key=AppKey.generate().public_key)


def app_for(fake: FakeGitHub) -> GitHubApp:
    return GitHubApp(github_app_settings(fake), transport=fake.transport)


async def test_invalid_body_fails_the_request_and_is_remembered(loose_fake: FakeGitHub) -> None:
    loose_fake.add_installation(7)
    loose_fake.add_repo(REPO, installation_id=7)
    client = app_for(loose_fake).installation_client(7)

    with pytest.raises(AssertionError, match="'conclusion' is a required property"):
        await client.post(
            "/repos/{owner}/{repo}/check-runs",
            {"owner": "pangeo-forge", "repo": "gpcp-feedstock"},
            data={"name": "ci", "head_sha": SHA, "status": "completed"},
        )

    assert len(loose_fake.violations) == 1
    with pytest.raises(AssertionError, match="requests GitHub would refuse"):
        loose_fake.assert_no_violations()


async def test_operation_without_a_fake_route_says_where_to_add_it(
    loose_fake: FakeGitHub,
) -> None:
    # /app/hook/config is in GitHub's description but the service never calls it.
    with pytest.raises(AssertionError, match=r"no route for GET /app/hook/config"):
        await app_for(loose_fake).app_client().getitem("/app/hook/config")


async def test_request_without_githubs_headers_is_a_violation(loose_fake: FakeGitHub) -> None:
    async with httpx.AsyncClient(transport=loose_fake.transport) as raw:
        with pytest.raises(AssertionError, match=r"Accept is not application/vnd\.github"):
            await raw.get("https://api.github.com/repos/pangeo-forge/gpcp-feedstock")
    assert loose_fake.violations


async def test_installation_token_is_refused_on_app_endpoints(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    client = github_app.installation_client(7)
    with pytest.raises(Unauthorized, match="JSON web token"):
        await client.getitem("/app/hook/deliveries")


async def test_contents_round_trip_with_githubs_blob_sha(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    repo = fake_github.add_repo(REPO, installation_id=7)
    fake_github.add_pull(repo, 5, head_sha=SHA, files={"feedstock/meta.yaml": "title: x\n"})
    client = github_app.installation_client(7)
    names = {"owner": "pangeo-forge", "repo": "gpcp-feedstock"}

    files = [f async for f in client.getiter("/repos/{owner}/{repo}/pulls/5/files", names)]
    meta = await client.getitem(
        "/repos/{owner}/{repo}/contents/{+path}{?ref}",
        {**names, "path": "feedstock/meta.yaml", "ref": SHA},
    )

    assert [f["filename"] for f in files] == ["feedstock/meta.yaml"]
    assert meta["sha"] == blob_sha(b"title: x\n") == files[0]["sha"]
    assert meta["encoding"] == "base64"


async def test_reacting_twice_keeps_one_reaction(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    repo = fake_github.add_repo(REPO, installation_id=7)
    client = github_app.installation_client(7)
    names = {"owner": "pangeo-forge", "repo": "gpcp-feedstock"}
    comment = await client.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        {**names, "issue_number": 5},
        data={"body": "/run gpcp"},
    )
    url = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
    for _ in range(2):
        await client.post(url, {**names, "comment_id": comment["id"]}, data={"content": "eyes"})
    assert [r["content"] for r in repo.reactions[comment["id"]]] == ["eyes"]
