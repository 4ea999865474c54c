"""The REST client: templates, pagination, retries, typed errors, rate limits, quota metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.github import (
    GitHubApp,
    GitHubUnavailable,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from pangeo_forge_orchestrator.adapters.github.client import GitHubClient
from pangeo_forge_orchestrator.adapters.github.ratelimit import RateLimitBook
from tests.adapters.conftest import RecordedSleep
from tests.conftest import github_app_settings
from tests.fake_github import FakeGitHub, MutableClock

pytestmark = pytest.mark.anyio

OWNER, NAME = "pangeo-forge", "gpcp-feedstock"
REPO = f"{OWNER}/{NAME}"
SHA = "b" * 40
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"


@pytest.fixture
def client(github_app: GitHubApp, fake_github: FakeGitHub) -> GitHubClient:
    fake_github.add_installation(7)
    fake_github.add_repo(REPO, installation_id=7)
    return github_app.installation_client(7)


def repo_vars(**more: object) -> dict[str, object]:
    return {"owner": OWNER, "repo": NAME, **more}


async def test_getiter_follows_link_headers_across_three_pages(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    repo = fake_github.repos[REPO]
    for i in range(7):
        await client.post(COMMENTS, repo_vars(issue_number=1), data={"body": f"comment {i}"})
    assert len(repo.comments_on(1)) == 7

    bodies = [
        c["body"]
        async for c in client.getiter(
            COMMENTS + "{?per_page}", repo_vars(issue_number=1, per_page=3)
        )
    ]

    assert bodies == [f"comment {i}" for i in range(7)]
    pages = fake_github.calls_to("GET", COMMENTS)
    assert [c.query.get("page", "1") for c in pages] == ["1", "2", "3"]
    assert all(c.query["per_page"] == "3" for c in pages)


async def test_getiter_reads_object_shaped_pages(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    for name in ("a", "b", "c"):
        await client.post(
            "/repos/{owner}/{repo}/check-runs",
            repo_vars(),
            data={"name": name, "head_sha": SHA, "status": "in_progress"},
        )
    names = [
        run["name"]
        async for run in client.getiter(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?per_page}",
            repo_vars(ref=SHA, per_page=2),
            iterable_key="check_runs",
        )
    ]
    assert names == ["a", "b", "c"]


async def test_contents_path_keeps_its_slashes_with_reserved_expansion(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    fake_github.repos[REPO].put_file("feedstock/meta.yaml", "title: GPCP\n", ref=SHA)
    data = await client.getitem(
        "/repos/{owner}/{repo}/contents/{+path}{?ref}",
        repo_vars(path="feedstock/meta.yaml", ref=SHA),
    )
    assert data["path"] == "feedstock/meta.yaml"
    assert fake_github.calls[-1].path == f"/repos/{REPO}/contents/feedstock/meta.yaml"


async def test_server_errors_are_retried_with_backoff(
    client: GitHubClient, fake_github: FakeGitHub, sleeps: RecordedSleep
) -> None:
    fake_github.add_pull(fake_github.repos[REPO], 3, head_sha=SHA)
    fake_github.fail_next(template=PULL, times=2, status=502)

    pull = await client.getitem(PULL, repo_vars(pull_number=3))

    assert pull["head"]["sha"] == SHA
    assert [c.status for c in fake_github.calls_to("GET", PULL)] == [502, 502, 200]
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] <= 0.5
    assert 0.5 <= sleeps.delays[1] <= 1.0


async def test_persistent_server_errors_raise_unavailable(
    client: GitHubClient, fake_github: FakeGitHub, sleeps: RecordedSleep
) -> None:
    fake_github.add_pull(fake_github.repos[REPO], 3, head_sha=SHA)
    fake_github.fail_next(template=PULL, times=10, status=503)

    with pytest.raises(GitHubUnavailable) as caught:
        await client.getitem(PULL, repo_vars(pull_number=3))

    assert caught.value.status == 503
    assert len(fake_github.calls_to("GET", PULL)) == 4
    assert len(sleeps.delays) == 3


async def test_connection_errors_are_retried_even_for_post(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    fake_github.connection_error(template=COMMENTS, method="POST", times=2)
    comment = await client.post(COMMENTS, repo_vars(issue_number=1), data={"body": "hi"})
    assert comment["body"] == "hi"
    assert len(fake_github.repos[REPO].comments) == 1


async def test_post_that_may_have_arrived_is_not_sent_twice(sleeps: RecordedSleep) -> None:
    sent: list[httpx.Request] = []

    def read_timeout(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    client = bare_client(httpx.MockTransport(read_timeout), sleeps)
    with pytest.raises(GitHubUnavailable, match="ReadTimeout after 1 attempt"):
        await client.post("/repos/o/r/issues/1/comments", data={"body": "once"})
    assert len(sent) == 1

    with pytest.raises(GitHubUnavailable, match="ReadTimeout after 4 attempt"):
        await client.getitem("/repos/o/r")
    assert len(sent) == 5


async def test_secondary_rate_limit_raises_with_retry_after(
    client: GitHubClient, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    fake_github.secondary_rate_limit(retry_after=120, template=COMMENTS, method="POST")

    with pytest.raises(RateLimited) as caught:
        await client.post(COMMENTS, repo_vars(issue_number=1), data={"body": "hi"})

    assert caught.value.kind == "secondary"
    assert caught.value.reset_at == github_clock.now + timedelta(seconds=120)
    assert fake_github.repos[REPO].comments == {}


async def test_while_limited_nothing_is_sent_until_the_limit_lifts(
    client: GitHubClient, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    fake_github.secondary_rate_limit(retry_after=30)
    with pytest.raises(RateLimited):
        await client.getitem("/repos/{owner}/{repo}", repo_vars())
    sent = len(fake_github.calls)

    with pytest.raises(RateLimited):
        await client.getitem("/repos/{owner}/{repo}", repo_vars())
    assert len(fake_github.calls) == sent

    github_clock.advance(timedelta(seconds=31))
    assert (await client.getitem("/repos/{owner}/{repo}", repo_vars()))["full_name"] == REPO


async def test_secondary_limit_without_retry_after_waits_a_minute(
    client: GitHubClient, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    fake_github.secondary_rate_limit(retry_after=None, status=429)
    with pytest.raises(RateLimited) as caught:
        await client.getitem("/repos/{owner}/{repo}", repo_vars())
    assert caught.value.kind == "secondary"
    assert caught.value.reset_at == github_clock.now + timedelta(minutes=1)


async def test_primary_rate_limit_raises_until_reset(
    client: GitHubClient, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    reset = github_clock.now + timedelta(minutes=17)
    fake_github.primary_rate_limit(reset_at=reset, template="/repos/{owner}/{repo}")

    with pytest.raises(RateLimited) as caught:
        await client.getitem("/repos/{owner}/{repo}", repo_vars())

    assert caught.value.kind == "primary"
    assert caught.value.reset_at == reset
    assert client.rate_limits.latest["core"].remaining == 0


async def test_remaining_quota_is_recorded_for_metrics(
    client: GitHubClient, fake_github: FakeGitHub
) -> None:
    await client.getitem("/repos/{owner}/{repo}", repo_vars())
    await client.getitem("/repos/{owner}/{repo}", repo_vars())

    quota = client.rate_limits.latest["core"]
    assert quota.limit == 5000
    assert quota.remaining == 5000 - fake_github.quota_used["installation:7"]
    gauge = REGISTRY.get_sample_value("pfo_github_ratelimit_remaining", {"resource": "core"})
    assert gauge == quota.remaining


async def test_not_found_carries_githubs_message(client: GitHubClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.getitem(PULL, repo_vars(pull_number=404))
    assert caught.value.status == 404
    assert caught.value.message == "Not Found"


async def test_validation_failed_carries_githubs_errors(sleeps: RecordedSleep) -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "field": "body", "code": "missing_field"}],
            },
        )

    client = bare_client(httpx.MockTransport(reject), sleeps)
    with pytest.raises(ValidationFailed) as caught:
        await client.post("/repos/o/r/issues/1/comments", data={"body": ""})
    assert caught.value.message == "Validation Failed"
    assert caught.value.errors == ("Issue body missing_field",)


async def test_credentials_never_leave_the_api_host(client: GitHubClient) -> None:
    with pytest.raises(ValueError, match="refusing to send GitHub credentials"):
        await client.getitem("https://evil.example.com/repos/o/r")


async def test_api_root_with_a_path_prefix(
    fake_github: FakeGitHub, github_clock: MutableClock, sleeps: RecordedSleep
) -> None:
    ghes = FakeGitHub(
        app_id=fake_github.app_id,
        public_key=fake_github.public_key,
        base_url="https://ghe.example.com/api/v3",
        clock=github_clock,
    )
    ghes.add_installation(7)
    ghes.add_repo(REPO, installation_id=7)
    app = GitHubApp(github_app_settings(ghes), transport=ghes.transport, clock=github_clock)

    repo = await app.installation_client(7).getitem("/repos/{owner}/{repo}", repo_vars())

    assert repo["url"] == f"https://ghe.example.com/api/v3/repos/{REPO}"
    ghes.assert_no_violations()


def bare_client(transport: httpx.MockTransport, sleeps: RecordedSleep) -> GitHubClient:
    class StaticAuth:
        identity = "test"

        async def authorization(self) -> SecretStr:
            return SecretStr("token static")

        def refused(self, authorization: SecretStr) -> bool:
            return False

    return GitHubClient(
        http=httpx.AsyncClient(transport=transport),
        base_url="https://api.github.com",
        auth=StaticAuth(),
        rate_limits=RateLimitBook(),
        sleep=sleeps,
        clock=lambda: datetime.now(UTC),
    )
