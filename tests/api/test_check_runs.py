"""GET /feedstocks/{id}/commits/{sha}/check-runs: read through to GitHub (here, the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.adapters.github import GitHubApp
from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.db.queries import FEEDSTOCKS
from pangeo_forge_orchestrator.sandbox import mode
from pangeo_forge_orchestrator.sandbox.mode import Sandbox, start_sandbox
from pangeo_forge_orchestrator.sandbox.state import CheckRun
from pangeo_forge_orchestrator.settings import Settings
from tests.sandbox.conftest import openapi_check

STAGED = f"{mode.ORG}/{mode.STAGED_RECIPES}"


@pytest.fixture
def sandbox(tmp_path: Path, database_url: str) -> Iterator[Sandbox]:
    made = start_sandbox(
        Settings(data_dir=tmp_path, database_url=database_url, log_format="console"),
        host="127.0.0.1",
        port=8124,
    )
    made.simulator.validate = openapi_check(made.simulator.urls)
    yield made
    made.stop()
    assert made.simulator.violations == []


def add_feedstock(database: Database, spec: str) -> int:
    with database.engine.begin() as conn:
        return int(
            conn.execute(
                sa.insert(FEEDSTOCKS.table)
                .values(spec=spec, provider="github")
                .returning(FEEDSTOCKS.table.c.id)
            ).scalar_one()
        )


@pytest.fixture
def client(sandbox: Sandbox, database: Database) -> Iterator[TestClient]:
    app = create_app(sandbox.settings, database=database)
    transport = httpx.ASGITransport(app=sandbox.simulator, root_path=mode.API_PREFIX)
    with TestClient(app) as test_client:
        app.state.github_app = GitHubApp(sandbox.settings, transport=transport)
        yield test_client


def main_sha(sandbox: Sandbox) -> str:
    return sandbox.simulator.git.branches(mode.ORG, mode.STAGED_RECIPES)["main"]


def test_the_commits_check_runs_come_from_github(
    client: TestClient, sandbox: Sandbox, database: Database
):
    feedstock_id = add_feedstock(database, STAGED)
    sha = main_sha(sandbox)
    repo = sandbox.simulator.state.repo(mode.ORG, mode.STAGED_RECIPES)
    assert repo is not None
    repo.check_runs[77] = CheckRun(
        id=77,
        name="Recipe run: tiny",
        head_sha=sha,
        status="completed",
        conclusion="success",
        output={"title": "tiny succeeded", "summary": "baked in 6 s", "text": None},
        details_url="http://127.0.0.1:8000/recipe_runs/1",
    )

    answer = client.get(f"/feedstocks/{feedstock_id}/commits/{sha}/check-runs")

    assert answer.status_code == 200, answer.text
    (run,) = answer.json()
    assert run["id"] == 77
    assert (run["name"], run["status"], run["conclusion"]) == (
        "Recipe run: tiny",
        "completed",
        "success",
    )
    assert (run["title"], run["summary"]) == ("tiny succeeded", "baked in 6 s")
    assert run["details_url"] == "http://127.0.0.1:8000/recipe_runs/1"
    assert run["app"] == "pangeo-forge"


def test_a_commit_without_check_runs_answers_an_empty_list(
    client: TestClient, sandbox: Sandbox, database: Database
):
    feedstock_id = add_feedstock(database, STAGED)
    answer = client.get(f"/feedstocks/{feedstock_id}/commits/{main_sha(sandbox)}/check-runs")
    assert (answer.status_code, answer.json()) == (200, [])


def test_unknown_feedstock_and_unknown_commit_are_404(
    client: TestClient, sandbox: Sandbox, database: Database
):
    feedstock_id = add_feedstock(database, STAGED)
    missing = client.get(f"/feedstocks/{feedstock_id + 1}/commits/{'a' * 40}/check-runs")
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"feedstock {feedstock_id + 1} not found"

    unknown = client.get(f"/feedstocks/{feedstock_id}/commits/{'b' * 40}/check-runs")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"GitHub has no commit {'b' * 40} in {STAGED}"


def test_a_repository_the_app_is_not_installed_on_is_404(client: TestClient, database: Database):
    feedstock_id = add_feedstock(database, "someone-else/other-feedstock")
    answer = client.get(f"/feedstocks/{feedstock_id}/commits/{'c' * 40}/check-runs")
    assert answer.status_code == 404
    assert answer.json()["detail"] == (
        "the GitHub App is not installed on someone-else/other-feedstock"
    )


@pytest.mark.parametrize("sha", ["xyz", "abc", "g" * 40, "a" * 41])
def test_a_malformed_sha_is_422_and_asks_nothing(client: TestClient, database: Database, sha: str):
    feedstock_id = add_feedstock(database, STAGED)
    answer = client.get(f"/feedstocks/{feedstock_id}/commits/{sha}/check-runs")
    assert answer.status_code == 422


def test_without_a_github_app_it_says_so(database_url: str, database: Database):
    feedstock_id = add_feedstock(database, STAGED)
    settings = Settings(database_url=database_url, log_format="console")
    with TestClient(create_app(settings, database=database)) as client:
        answer = client.get(f"/feedstocks/{feedstock_id}/commits/{'d' * 40}/check-runs")
    assert answer.status_code == 503
    assert "not configured" in answer.json()["detail"]
