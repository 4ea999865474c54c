"""The recipe-run workflows end to end: signed deliveries in, the worker's job handlers, the
stateful fake GitHub (every request validated against GitHub's OpenAPI) and the fake runner.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.adapters.github import GitHubApp
from pangeo_forge_orchestrator.core.backoff import DEFAULT_BACKOFF
from pangeo_forge_orchestrator.db.api_keys import create_api_key
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.outcomes import Finished, execute, settle
from pangeo_forge_orchestrator.jobs.registry import JobContext, Registry, discover
from pangeo_forge_orchestrator.jobs.services import build_services
from pangeo_forge_orchestrator.settings import Settings
from tests.conftest import github_app_settings, shared_path
from tests.fake_github import FakeGitHub, FakeRepo
from tests.fake_runner import FakeRunner
from tests.webhooks.helpers import HOOKS, headers_for

INSTALLATION_ID = 777
ORG = "pangeo-forge"
FEEDSTOCK = f"{ORG}/ocean-feedstock"
STAGED = f"{ORG}/staged-recipes"
HEAD_SHA = "a" * 40
NEW_SHA = "b" * 40
MAINTAINER = "maintainer"
CONTRIBUTOR = "contributor"
META = """\
title: Ocean temperatures
recipes:
  - id: ok
    object: "recipe:recipe"
  - id: crash
    object: "recipe:recipe"
bakery:
  id: local
"""
BAKERIES_FILE = """\
bakeries:
  local:
    region: local
    description: The test bakery
    kind: local
    runner_config: {{}}
    target_root: "{root}/{{subpath}}"
    public_url: "https://data.example/{{subpath}}"
    max_concurrent_runs: 4
"""
PR_EXAMPLE = "github/webhooks/examples/pull_request/opened.payload.json"
COMMENT_EXAMPLE = "github/webhooks/examples/issue_comment/created.payload.json"


def example(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_path(relative).read_text())
    return data


async def no_sleep(_seconds: float) -> None:
    return None


def make_settings(
    fake: FakeGitHub, *, database_url: str, runner: FakeRunner, tmp: Path
) -> Settings:
    bakeries = tmp / "bakeries.yaml"
    bakeries.write_text(BAKERIES_FILE.format(root=tmp / "outputs"))
    return github_app_settings(
        fake,
        database_url=database_url,
        runner_command=runner.command,
        bakeries_file=bakeries,
        data_dir=tmp / "data",
        public_url="https://pfo.example",
        dashboard_url="https://pangeo-forge.example/dashboard",
    )


@dataclass
class Harness:
    fake: FakeGitHub
    settings: Settings
    database: Database
    client: TestClient
    ctx: JobContext
    registry: Registry
    runner: FakeRunner

    # ---- GitHub's side ---------------------------------------------------------------------
    def repo(self, full_name: str) -> FakeRepo:
        return self.fake.repos[full_name]

    def add_feedstock(self, full_name: str = FEEDSTOCK) -> FakeRepo:
        return self.fake.add_repo(full_name, installation_id=INSTALLATION_ID)

    def add_comment(self, repo: FakeRepo, number: int, *, body: str, login: str) -> dict[str, Any]:
        """A comment a person wrote on PR NUMBER, as GitHub stores it."""
        comment: dict[str, Any] = self.fake.example(
            "issue-comment", rename={"octocat/Hello-World": repo.full_name}
        )
        comment_id = self.fake.next_id()
        comment.update(
            id=comment_id,
            body=body,
            user=self.fake.user(login),
            created_at=(datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            issue_url=f"{self.fake.repo_url(repo)}/issues/{number}",
        )
        repo.comments[comment_id] = comment
        return comment

    # ---- deliveries ------------------------------------------------------------------------
    def deliver(self, event: str, payload: dict[str, Any], *, guid: str | None = None) -> str:
        body = json.dumps(payload).encode()
        headers = headers_for(body, event=event, guid=guid or str(uuid.uuid4()))
        response = self.client.post(HOOKS, content=body, headers=headers)
        assert response.status_code == 202, response.text
        return headers["X-GitHub-Delivery"]

    def replay(self, guid: str) -> None:
        """An admin replays a stored delivery through the API."""
        with self.database.session() as session:
            key = create_api_key(session, name="test admin")
        url = f"/github/hooks/deliveries/{guid}/replay"
        response = self.client.post(url, headers={"X-API-Key": key})
        assert response.status_code == 202, response.text

    def pull_request_payload(self, action: str, repo: FakeRepo, number: int) -> dict[str, Any]:
        payload = example(PR_EXAMPLE)
        payload.update(
            action=action,
            number=number,
            pull_request=copy.deepcopy(repo.pulls[number]),
            repository=self.fake.repo_json(repo),
            installation={"id": INSTALLATION_ID, "node_id": "x"},
            sender=self.fake.user(CONTRIBUTOR),
        )
        return payload

    def comment_payload(
        self, repo: FakeRepo, number: int, comment: dict[str, Any]
    ) -> dict[str, Any]:
        payload = example(COMMENT_EXAMPLE)
        payload["issue"].update(
            number=number,
            pull_request={"url": f"{self.fake.repo_url(repo)}/pulls/{number}"},
        )
        payload.update(
            action="created",
            comment=copy.deepcopy(comment),
            repository=self.fake.repo_json(repo),
            installation={"id": INSTALLATION_ID, "node_id": "x"},
            sender=comment["user"],
        )
        return payload

    # ---- the worker ------------------------------------------------------------------------
    async def work(self) -> list[tuple[str, str]]:
        """Run every due job (and wait for the bakes they start) until nothing is left.

        Returns (kind, outcome) of every job run, in order.
        """
        ran: list[tuple[str, str]] = []
        while True:
            with self.database.session() as session:
                jobs = queue.claim(session, worker="test", limit=10, lease=timedelta(minutes=5))
            for job in jobs:
                result = await execute(self.registry, self.ctx, job)
                with self.database.session() as session:
                    settled = settle(
                        session,
                        Finished(job, result, 0.0),
                        registry=self.registry,
                        backoff=DEFAULT_BACKOFF,
                    )
                ran.append((job.kind, settled.outcome))
            if jobs:
                continue
            pending = self.bakes_in_flight()
            if not pending:
                return ran
            await asyncio.wait(pending, timeout=30)

    def bakes_in_flight(self) -> set[asyncio.Task[None]]:
        """The local bakery's supervising tasks still running (their end enqueues a job)."""
        services = self.ctx.services["bakeries"]
        tasks: set[asyncio.Task[None]] = set()
        for adapter in services.adapters.values():
            tasks |= {t for t in getattr(adapter, "_tasks", set()) if not t.done()}
        return tasks

    def make_due(self) -> None:
        """Bring retried jobs' backoff forward, as time passing would."""
        with self.database.engine.begin() as conn:
            conn.execute(sa.text("UPDATE job SET run_after = now() WHERE status = 'queued'"))

    # ---- what we stored --------------------------------------------------------------------
    def runs(self) -> list[Any]:
        with self.database.engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT * FROM recipe_run ORDER BY id")).all())

    def feedstocks(self) -> list[Any]:
        with self.database.engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT * FROM feedstock ORDER BY id")).all())

    def jobs(self) -> list[Any]:
        with self.database.engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT * FROM job ORDER BY id")).all())

    def deliveries(self) -> list[Any]:
        with self.database.engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT * FROM delivery ORDER BY id")).all())

    def calls(self) -> Counter[tuple[str, str]]:
        """GitHub calls made so far, by (method, template), tokens aside."""
        return Counter(
            (c.method, c.template)
            for c in self.fake.calls
            if c.template != "/app/installations/{installation_id}/access_tokens"
        )

    def reset_calls(self) -> None:
        self.fake.calls.clear()


def build_harness(
    fake: FakeGitHub,
    *,
    settings: Settings,
    database: Database,
    client: TestClient,
    runner: FakeRunner,
) -> Harness:
    fake.add_installation(INSTALLATION_ID, account=ORG)
    as_user = fake.repo_json

    def org_repo_json(repo: FakeRepo) -> dict[str, Any]:
        # The fake knows no organisations; ours is one, as GitHub would say.
        data = as_user(repo)
        if repo.owner == ORG:
            data["owner"]["type"] = "Organization"
        return data

    fake.repo_json = org_repo_json  # type: ignore[method-assign]
    ctx = JobContext(
        settings=settings,
        database=database,
        github=GitHubApp(settings, transport=fake.transport, sleep=no_sleep),
        services=build_services(settings, database, environ=runner.environ),
    )
    return Harness(
        fake=fake,
        settings=settings,
        database=database,
        client=client,
        ctx=ctx,
        registry=discover(),
        runner=runner,
    )


def as_bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content
