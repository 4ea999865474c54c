"""Fixtures of the workflow tests: the app, the worker's context, fake GitHub and fake runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.engine import Database
from tests.fake_github import FakeGitHub
from tests.fake_runner import FakeRunner, install_fake_runner
from tests.workflows.harness import Harness, build_harness, make_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def runner(tmp_path: Path) -> FakeRunner:
    return install_fake_runner(tmp_path)


@pytest.fixture
def harness(
    fake_github: FakeGitHub, database_url: str, runner: FakeRunner, tmp_path: Path
) -> Iterator[Harness]:
    settings = make_settings(fake_github, database_url=database_url, runner=runner, tmp=tmp_path)
    database = Database.from_url(database_url)
    try:
        with TestClient(create_app(settings, database=database)) as client:
            yield build_harness(
                fake_github, settings=settings, database=database, client=client, runner=runner
            )
    finally:
        database.dispose()
