"""Sandbox mode: when it starts, what settings it gives the service, what it seeds, and that the
service's own GitHub App client works against it through ASGI."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from pangeo_forge_orchestrator.adapters.github import GitHubApp
from pangeo_forge_orchestrator.sandbox import mode
from pangeo_forge_orchestrator.sandbox.mode import Sandbox, start_sandbox, wanted
from pangeo_forge_orchestrator.settings import Settings
from tests.sandbox.conftest import openapi_check
from tests.sandbox.schemas import assert_webhook

PORT = 8123
API = f"http://127.0.0.1:{PORT}/sandbox/github"


def settings_in(data_dir: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, log_format="console", **values)  # type: ignore[arg-type]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox built as `pfo serve` builds it; never started, so it sends nothing."""
    made = start_sandbox(settings_in(tmp_path), host="127.0.0.1", port=PORT)
    yield made
    made.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_wanted_on_loopback_without_an_app(tmp_path: Path) -> None:
    plain = settings_in(tmp_path)
    assert wanted(plain, host="127.0.0.1", requested=None) is True
    assert wanted(plain, host="::1", requested=None) is True
    assert wanted(plain, host="localhost", requested=None) is True
    # A wildcard bind is reachable from elsewhere: never a simulator by accident.
    assert wanted(plain, host="0.0.0.0", requested=None) is False
    assert wanted(plain, host="example.org", requested=None) is False
    assert wanted(plain, host="0.0.0.0", requested=True) is True


def test_not_wanted_when_an_app_is_configured(tmp_path: Path) -> None:
    configured = settings_in(
        tmp_path,
        github_app_id=7,
        github_app_private_key=SecretStr("PEM"),
        github_webhook_secret=SecretStr("secret"),
    )
    assert configured.github_app_configured
    assert wanted(configured, host="127.0.0.1", requested=None) is False
    assert wanted(configured, host="127.0.0.1", requested=True) is True
    assert wanted(settings_in(tmp_path), host="127.0.0.1", requested=False) is False


def test_the_service_settings_point_at_the_simulator(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = sandbox.settings
    assert settings.github_app_id == mode.APP_ID
    assert settings.github_api_url == API
    assert settings.github_app_configured
    secrets_file = tmp_path / "sandbox" / "app-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    made = mode.load_or_make_secrets(tmp_path / "sandbox")
    pem = settings.github_private_key_pem
    assert pem is not None
    assert pem.get_secret_value() == made.private_key_pem
    assert settings.github_webhook_secret is not None
    assert settings.github_webhook_secret.get_secret_value() == made.webhook_secret
    assert settings.bakery_callback_secret is not None
    assert sandbox.sender.url == f"http://127.0.0.1:{PORT}/github/hooks/"
    assert API in sandbox.banner()


def test_a_wildcard_bind_is_reached_through_loopback(tmp_path: Path) -> None:
    made = start_sandbox(settings_in(tmp_path), host="0.0.0.0", port=PORT)
    try:
        assert made.settings.github_api_url == API
    finally:
        made.stop()


def test_seeding_makes_the_installation_and_staged_recipes(sandbox: Sandbox) -> None:
    sim = sandbox.simulator
    assert list(sim.state.installations) == [mode.INSTALLATION_ID]
    assert sim.state.installations[mode.INSTALLATION_ID].account == mode.ORG
    repo = sim.state.repo(mode.ORG, mode.STAGED_RECIPES)
    assert repo is not None
    assert repo.installation_id == mode.INSTALLATION_ID
    readme = sim.git.read(mode.ORG, mode.STAGED_RECIPES, "main", "README.md")
    assert readme is not None
    assert readme.startswith(b"# staged-recipes")
    assert sim.state.org_owners[mode.ORG] == [mode.MAINTAINER]
    (queued,) = sim.state.deliveries
    assert (queued.event, queued.action, queued.status_code) == ("installation", "created", 0)
    payload = json.loads(queued.body)
    assert_webhook("installation", payload)
    assert [r["full_name"] for r in payload["repositories"]] == ["pangeo-forge/staged-recipes"]
    assert payload["installation"]["id"] == mode.INSTALLATION_ID


def test_a_second_start_reuses_everything(sandbox: Sandbox, tmp_path: Path) -> None:
    first_key = sandbox.settings.github_private_key_pem
    sandbox.stop()
    again = start_sandbox(settings_in(tmp_path), host="127.0.0.1", port=PORT)
    try:
        assert again.settings.github_private_key_pem == first_key
        state = again.simulator.state
        assert len(state.installations) == 1
        assert len(state.repos) == 1
        assert len(state.deliveries) == 1  # no second `installation created`
        git_log = again.simulator.git.info(
            mode.ORG,
            mode.STAGED_RECIPES,
            again.simulator.git.branches(mode.ORG, mode.STAGED_RECIPES)["main"],
        )
        assert git_log is not None
        assert git_log.parents == ()  # still the one seeding commit
    finally:
        again.stop()


@pytest.mark.anyio
async def test_the_services_github_app_client_works_against_it(sandbox: Sandbox) -> None:
    sim = sandbox.simulator
    sim.validate = openapi_check(sim.urls)
    transport = httpx.ASGITransport(app=sim, root_path=mode.API_PREFIX)
    async with GitHubApp(sandbox.settings, transport=transport) as app:
        installation = await app.app_client().getitem(
            "/repos/{owner}/{repo}/installation", {"owner": mode.ORG, "repo": mode.STAGED_RECIPES}
        )
        assert installation["id"] == mode.INSTALLATION_ID
        client = app.installation_client(mode.INSTALLATION_ID)
        repo = await client.getitem(
            "/repos/{owner}/{repo}", {"owner": mode.ORG, "repo": mode.STAGED_RECIPES}
        )
        assert (repo["full_name"], repo["default_branch"]) == (
            "pangeo-forge/staged-recipes",
            "main",
        )
        readme = await client.getitem(
            "/repos/{owner}/{repo}/contents/{+path}{?ref}",
            {"owner": mode.ORG, "repo": mode.STAGED_RECIPES, "path": "README.md", "ref": "main"},
        )
        assert readme["name"] == "README.md"
        listed = [
            r["full_name"]
            async for r in client.getiter("/installation/repositories", iterable_key="repositories")
        ]
        assert listed == ["pangeo-forge/staged-recipes"]
    assert sim.state.tokens  # the App minted an installation token
    assert sim.violations == []


def test_an_ipv6_loopback_host_gets_a_bracketed_url(tmp_path):
    from pangeo_forge_orchestrator.sandbox.mode import start_sandbox
    from pangeo_forge_orchestrator.settings import Settings

    sandbox = start_sandbox(Settings(data_dir=tmp_path), host="::1", port=8123)
    try:
        assert sandbox.api_url == "http://[::1]:8123/sandbox/github"
        assert sandbox.settings.github_api_url == "http://[::1]:8123/sandbox/github"
    finally:
        sandbox.stop()
