"""App JWT and installation tokens: claims, caching, one refresh at a time, early renewal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.github import GitHubApp, GitHubNotConfigured, NotFound
from pangeo_forge_orchestrator.adapters.github.auth import AppJwt, app_jwt, load_private_key
from pangeo_forge_orchestrator.settings import Settings
from tests.fake_github import AppKey, FakeGitHub, MutableClock

pytestmark = pytest.mark.anyio
REPO = "pangeo-forge/gpcp-feedstock"


def test_jwt_claims_follow_githubs_rules() -> None:
    key = AppKey.generate()
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    token, expires_at = app_jwt(app_id=4242, key=key.private_key, now=now)

    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token,
        key.public_key,
        algorithms=["RS256"],
        issuer="4242",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iat"] == int(now.timestamp()) - 60
    assert 0 < claims["exp"] - now.timestamp() <= 600
    assert expires_at.timestamp() == claims["exp"]


def test_jwt_is_reused_then_resigned_before_expiry() -> None:
    clock = MutableClock(datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    app = AppJwt(app_id=1, key=AppKey.generate().private_key, clock=clock)
    first = app.token()
    clock.advance(timedelta(minutes=5))
    assert app.token() is first
    clock.advance(timedelta(minutes=2, seconds=1))  # now within 2 minutes of the 9-minute expiry
    assert app.token().get_secret_value() != first.get_secret_value()


def test_key_that_is_not_pem_is_refused_without_echoing_it() -> None:
    with pytest.raises(GitHubNotConfigured) as caught:
        load_private_key(SecretStr("-----BEGIN RSA PRIVATE KEY-----\nsupersecretjunk\n"))
    assert "supersecretjunk" not in str(caught.value)


def test_non_rsa_key_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(GitHubNotConfigured, match="not an RSA key"):
        load_private_key(SecretStr(pem))


def test_app_without_id_or_key_is_not_configured() -> None:
    with pytest.raises(GitHubNotConfigured, match="PFO_GITHUB_APP_ID"):
        GitHubApp(Settings(_env_file=None, github_app_id=None, github_app_private_key=None))


async def test_app_client_is_accepted_by_github(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    app = await github_app.app_client().getitem("/app")
    assert app["id"] == fake_github.app_id
    assert fake_github.calls[-1].identity == "app"


async def test_concurrent_calls_for_one_installation_request_one_token(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    fake_github.add_repo(REPO, installation_id=7)

    async def read_repo() -> str:
        client = github_app.installation_client(7)
        repo = await client.getitem(
            "/repos/{owner}/{repo}", {"owner": "pangeo-forge", "repo": "gpcp-feedstock"}
        )
        return str(repo["full_name"])

    names = await asyncio.gather(*(read_repo() for _ in range(25)))

    assert names == [REPO] * 25
    assert len(fake_github.token_requests(7)) == 1
    assert {c.identity for c in fake_github.calls_to("GET", "/repos/{owner}/{repo}")} == {
        "installation:7"
    }


async def test_token_is_renewed_within_five_minutes_of_expiry(
    github_app: GitHubApp, fake_github: FakeGitHub, github_clock: MutableClock
) -> None:
    fake_github.add_installation(7)
    fake_github.add_repo(REPO, installation_id=7)
    client = github_app.installation_client(7)
    url, names = "/repos/{owner}/{repo}", {"owner": "pangeo-forge", "repo": "gpcp-feedstock"}

    await client.getitem(url, names)
    github_clock.advance(timedelta(minutes=54))  # 6 minutes left: still used
    await client.getitem(url, names)
    assert len(fake_github.token_requests(7)) == 1

    github_clock.advance(timedelta(minutes=2))  # 4 minutes left: renewed first
    await client.getitem(url, names)
    assert len(fake_github.token_requests(7)) == 2
    assert fake_github.calls[-1].headers["authorization"] == f"token {fake_github.tokens[-1].token}"


async def test_short_lived_tokens_are_not_minted_once_per_waiter(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    # A token GitHub gives less than the 5-minute margin is still shared by the callers that
    # waited for it; only later callers ask for a new one.
    fake_github.token_lifetime = timedelta(minutes=3)
    fake_github.add_installation(7)
    fake_github.add_repo(REPO, installation_id=7)
    client = github_app.installation_client(7)

    await asyncio.gather(*(client.getitem("/repos/pangeo-forge/gpcp-feedstock") for _ in range(10)))

    assert len(fake_github.token_requests(7)) == 1


async def test_two_installations_get_two_tokens(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    fake_github.add_installation(8, account="other-org")
    fake_github.add_repo(REPO, installation_id=7)
    fake_github.add_repo("other-org/x-feedstock", installation_id=8)

    await github_app.installation_client(7).getitem("/repos/pangeo-forge/gpcp-feedstock")
    await github_app.installation_client(8).getitem("/repos/other-org/x-feedstock")
    await github_app.installation_client(7).getitem("/repos/pangeo-forge/gpcp-feedstock")

    assert len(fake_github.token_requests(7)) == 1
    assert len(fake_github.token_requests(8)) == 1
    assert fake_github.tokens[0].token != fake_github.tokens[1].token


async def test_a_token_github_revoked_is_replaced_once(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    fake_github.add_repo(REPO, installation_id=7)
    client = github_app.installation_client(7)
    await client.getitem("/repos/pangeo-forge/gpcp-feedstock")
    fake_github.tokens.clear()  # GitHub forgot every token (installation suspended and back)

    repo = await client.getitem("/repos/pangeo-forge/gpcp-feedstock")

    assert repo["full_name"] == REPO
    assert len(fake_github.token_requests(7)) == 2


async def test_installation_cannot_reach_another_installations_repo(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    fake_github.add_installation(7)
    fake_github.add_installation(8, account="other-org")
    fake_github.add_repo(REPO, installation_id=7)

    with pytest.raises(NotFound):
        await github_app.installation_client(8).getitem("/repos/pangeo-forge/gpcp-feedstock")


async def test_token_for_unknown_installation_is_a_typed_error(
    github_app: GitHubApp, fake_github: FakeGitHub
) -> None:
    with pytest.raises(NotFound) as caught:
        await github_app.installation_client(99).getitem("/installation/repositories")
    assert caught.value.status == 404
    assert "/app/installations/99/access_tokens" in str(caught.value)
