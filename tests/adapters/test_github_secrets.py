"""Tokens and JWTs never reach a log line, an exception message or a repr."""

from __future__ import annotations

import logging

import pytest

from pangeo_forge_orchestrator.adapters.github import (
    GitHubApp,
    GitHubError,
    GitHubUnavailable,
    RateLimited,
)
from tests.fake_github import FakeGitHub

pytestmark = pytest.mark.anyio
REPO = "pangeo-forge/gpcp-feedstock"


async def test_credentials_stay_out_of_logs_errors_and_reprs(
    github_app: GitHubApp, fake_github: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_github.add_installation(7)
    fake_github.add_repo(REPO, installation_id=7)
    client = github_app.installation_client(7)
    raised: list[BaseException] = []

    await client.getitem(f"/repos/{REPO}")
    fake_github.tokens.clear()  # forces the 401 -> new token path
    await client.getitem(f"/repos/{REPO}")
    fake_github.fail_next(times=2)
    await client.getitem(f"/repos/{REPO}")
    for failure in (
        lambda: fake_github.fail_next(times=10),
        lambda: fake_github.secondary_rate_limit(retry_after=5),
        lambda: None,  # a plain 404
    ):
        failure()
        with pytest.raises((GitHubError, GitHubUnavailable, RateLimited)) as caught:
            await client.getitem(f"/repos/{REPO}/pulls/999")
        raised.append(caught.value)
        github_app.rate_limits._in_force.clear()

    credentials = {
        call.headers["authorization"].split(" ", 1)[1]
        for call in fake_github.calls
        if "authorization" in call.headers
    }
    credentials |= {token.token for token in fake_github.tokens}
    assert len(credentials) >= 3  # at least one JWT and two installation tokens were used
    everything_logged = caplog.text + " ".join(repr(vars(record)) for record in caplog.records)
    visible = [
        everything_logged,
        *(str(exc) for exc in raised),
        *(repr(exc) for exc in raised),
        repr(github_app),
        repr(client),
        repr(github_app._tokens),
        repr(github_app._jwt),
    ]
    assert any("github rate limit" in text for text in visible)  # the logs were captured
    for credential in credentials:
        for text in visible:
            assert credential not in text
