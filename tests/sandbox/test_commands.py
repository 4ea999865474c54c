"""`pfo sandbox …`: each command acts through the simulator's API and says what happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pangeo_forge_orchestrator.cli import app as pfo
from pangeo_forge_orchestrator.sandbox import commands, mode
from pangeo_forge_orchestrator.sandbox.client import SandboxClient
from pangeo_forge_orchestrator.sandbox.mode import Sandbox, start_sandbox
from pangeo_forge_orchestrator.settings import Settings

PORT = 8125
URL = f"http://127.0.0.1:{PORT}"
STAGED = f"{mode.ORG}/{mode.STAGED_RECIPES}"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    made = start_sandbox(Settings(data_dir=tmp_path / "pfo"), host="127.0.0.1", port=PORT)
    web = Starlette()
    made.mount(web)
    http = TestClient(web, base_url=URL)

    def client(url: str, login: str) -> SandboxClient:
        assert url == URL
        made_client = SandboxClient(url, login=login)
        made_client._http = http  # in process: the same API, no socket
        return made_client

    monkeypatch.setattr(commands, "_client", client)
    yield made
    made.stop()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(pfo, ["sandbox", *args, "--url", URL])
    return result.exit_code, result.output


def test_propose_comment_show_and_merge(sandbox: Sandbox, tmp_path: Path):
    code, said = run("propose", "tiny-9", "--data-dir", str(tmp_path / "pfo"))
    assert code == 0, said
    assert f"dana opened {STAGED}#1" in said
    assert f"{URL}/sandbox/web/{STAGED}/pull/1" in said
    repo = sandbox.simulator.state.repo(mode.ORG, mode.STAGED_RECIPES)
    assert repo is not None
    pull = repo.pulls[1]
    files = sandbox.simulator.git.tree(mode.ORG, mode.STAGED_RECIPES, pull.head_sha) or {}
    assert {"recipes/tiny-9/meta.yaml", "recipes/tiny-9/recipe.py"} <= files.keys()
    assert (
        tmp_path / "pfo" / "sandbox" / "inputs" / "tiny-9" / "temperature-2020-01-01.nc"
    ).is_file()

    code, said = run("comment", STAGED, "1", "/run tiny", "--as", "max")
    assert code == 0, said
    assert f"max commented on {STAGED}#1" in said
    assert [c.body for c in repo.comments.values()] == ["/run tiny"]

    code, said = run("show", STAGED, "1")
    assert code == 0, said
    assert "“Add tiny-9” by dana: open" in said
    assert "— max:\n/run tiny" in said

    code, said = run("merge", STAGED, "1", "--as", "otto")
    assert code == 1
    assert "403" in said
    assert "denied to otto" in said

    code, said = run("merge", STAGED, "1")  # max by default
    assert code == 0, said
    assert f"max merged {STAGED}#1" in said
    assert repo.pulls[1].merged_at is not None


def test_create_feedstock_from_the_template(sandbox: Sandbox, tmp_path: Path):
    code, said = run("create-feedstock", "air", "--data-dir", str(tmp_path / "pfo"))
    assert code == 0, said
    assert f"created {mode.ORG}/air-feedstock" in said
    files = sandbox.simulator.git.tree(mode.ORG, "air-feedstock", "main") or {}
    assert {"README.md", "feedstock/meta.yaml", "feedstock/recipe.py"} <= files.keys()
    assert b"github: max" in files["feedstock/meta.yaml"]

    code, said = run("create-feedstock", "air", "--data-dir", str(tmp_path / "pfo"))
    assert code == 1
    assert "422" in said
    assert "name already exists" in said


def test_an_unknown_pull_request_is_a_clear_error(sandbox: Sandbox):
    code, said = run("show", STAGED, "42")
    assert code == 1
    assert "404" in said
