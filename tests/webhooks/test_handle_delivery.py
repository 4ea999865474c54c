"""The handle_delivery job: stored deliveries are routed, and the delivery row says how it went."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.handle_delivery import DELIVERY_GONE, handle_delivery
from pangeo_forge_orchestrator.jobs.registry import Registry
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.worker import Worker
from tests.webhooks.helpers import HOOKS, example, headers_for, run_jobs, sign, stored

CREATED = "examples/installation/created.payload.json"
SUSPEND = "examples/installation/suspend.payload.json"
UNSUSPEND = "examples-more/installation/unsuspend.payload.json"
ADDED = "examples/installation_repositories/added.payload.json"
REMOVED = "examples/installation_repositories/removed.payload.json"


def deliver(client: TestClient, body: bytes, event: str) -> str:
    headers = headers_for(body, event=event)
    response = client.post(HOOKS, content=body, headers=headers)
    assert response.status_code == 202, response.text
    return headers["X-GitHub-Delivery"]


def deliver_example(client: TestClient, relative: str) -> str:
    return deliver(client, example(relative), relative.split("/")[1])


def changed(relative: str, change: dict[str, Any]) -> bytes:
    """An example payload with nested keys changed: {"installation.id": 5, "action": "x"}."""
    payload = json.loads(example(relative))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value
    return json.dumps(payload).encode()


def delivery_states(database: Database) -> dict[str, tuple[str, str | None, bool]]:
    return {
        row.guid: (row.status, row.error, row.handled_at is not None)
        for row in stored(database).deliveries
    }


def installations(database: Database) -> list[tuple[int, str, list[str], bool]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, account, repositories, suspended FROM installation ORDER BY id")
        ).all()
    return [(row.id, row.account, row.repositories, row.suspended) for row in rows]


def test_installation_created_is_stored_and_the_delivery_handled(
    client: TestClient, settings: Settings, database: Database
) -> None:
    guid = deliver_example(client, CREATED)

    run_jobs(settings, database)

    assert installations(database) == [(957387, "Codertocat", ["Codertocat/Hello-World"], False)]
    assert delivery_states(database) == {guid: ("handled", None, True)}
    assert [job.status for job in stored(database).jobs] == ["succeeded"]


def test_suspend_and_unsuspend_flip_the_flag_and_keep_the_repositories(
    client: TestClient, settings: Settings, database: Database
) -> None:
    deliver(client, changed(CREATED, {"installation.id": 16598467}), "installation")
    run_jobs(settings, database)
    deliver_example(client, SUSPEND)
    run_jobs(settings, database)
    suspended = installations(database)
    deliver_example(client, UNSUSPEND)
    run_jobs(settings, database)

    assert suspended == [(16598467, "Codertocat", ["Codertocat/Hello-World"], True)]
    assert installations(database) == [(16598467, "Codertocat", ["Codertocat/Hello-World"], False)]


def test_a_deleted_installation_is_removed(
    client: TestClient, settings: Settings, database: Database
) -> None:
    deliver_example(client, CREATED)
    run_jobs(settings, database)
    deliver(client, changed(CREATED, {"action": "deleted"}), "installation")
    run_jobs(settings, database)

    assert installations(database) == []
    assert {state for state, _, _ in delivery_states(database).values()} == {"handled"}


def test_repositories_added_and_removed_update_the_list(
    client: TestClient, settings: Settings, database: Database
) -> None:
    deliver_example(client, CREATED)
    deliver_example(client, ADDED)
    run_jobs(settings, database)
    after_add = installations(database)
    deliver(
        client,
        changed(
            REMOVED,
            {
                "installation.id": 957387,
                "installation.account.login": "Codertocat",
                "repositories_removed": [{"full_name": "Codertocat/Hello-World"}],
            },
        ),
        "installation_repositories",
    )
    run_jobs(settings, database)

    assert after_add == [
        (957387, "Codertocat", ["Codertocat/Hello-World", "Codertocat/Space"], False)
    ]
    assert installations(database) == [(957387, "Codertocat", ["Codertocat/Space"], False)]


def test_repositories_added_to_an_unknown_installation_create_it(
    client: TestClient, settings: Settings, database: Database
) -> None:
    deliver_example(client, ADDED)
    run_jobs(settings, database)

    assert installations(database) == [(957387, "Codertocat", ["Codertocat/Space"], False)]


def test_unhandled_events_are_marked_ignored_with_the_reason(
    client: TestClient, settings: Settings, database: Database
) -> None:
    deleted = deliver_example(client, "examples/issue_comment/deleted.payload.json")
    push = deliver_example(client, "examples/push/payload.json")
    renamed = deliver(client, changed(CREATED, {"action": "renamed"}), "installation")
    ping = deliver_example(client, "examples/ping/with-app_id.payload.json")

    run_jobs(settings, database)

    assert delivery_states(database) == {
        deleted: ("ignored", "no handler for issue_comment.deleted", True),
        push: ("ignored", "no handler for push", True),
        renamed: ("ignored", "no handler for installation.renamed", True),
        ping: ("handled", None, True),
    }
    assert {job.status for job in stored(database).jobs} == {"succeeded"}
    assert installations(database) == []


def test_a_dataflow_callback_for_an_unknown_run_is_ignored_with_the_reason(
    client: TestClient, settings: Settings, database: Database
) -> None:
    body = b"action=completed&recipe_run_id=42&conclusion=success"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "dataflow",
        "X-Hub-Signature-256": sign(body),
    }
    assert client.post(HOOKS, content=body, headers=headers).status_code == 202

    run_jobs(settings, database)

    assert delivery_states(database) == {
        "dataflow:42:success": (
            "ignored",
            "recipe run 42 does not exist; the status report is ignored",
            True,
        )
    }


def test_a_malformed_payload_fails_the_delivery_at_once(
    client: TestClient, settings: Settings, database: Database
) -> None:
    guid = deliver(client, b'{"action": "created", "installation": {"id": 1}}', "installation")

    run_jobs(settings, database)

    assert delivery_states(database) == {
        guid: (
            "failed",
            "malformed installation.created payload: installation has no account login",
            True,
        )
    }
    (job,) = stored(database).jobs
    assert (job.status, job.attempts) == ("failed", 1)


def test_a_job_whose_delivery_was_deleted_fails_with_the_reason(
    settings: Settings, database: Database
) -> None:
    with database.session() as session:
        queue.enqueue(session, kind="handle_delivery", payload={"delivery_id": 999})

    run_jobs(settings, database)

    (job,) = stored(database).jobs
    assert (job.status, job.last_error) == ("failed", DELIVERY_GONE.format(delivery_id=999))


def test_the_worker_runs_handle_delivery_end_to_end(
    client: TestClient, settings: Settings, database: Database
) -> None:
    registry = Registry()
    registry.job_handler("handle_delivery")(handle_delivery)
    created = deliver_example(client, CREATED)
    deleted = deliver_example(client, "examples/issue_comment/deleted.payload.json")

    async def run_worker_until_settled() -> None:
        worker = Worker(settings=settings, database=database, registry=registry)
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = await asyncio.to_thread(delivery_states, database)
            if all(state != "queued" for state, _, _ in states.values()):
                break
            await asyncio.sleep(0.02)
        worker.request_stop()
        await task

    asyncio.run(run_worker_until_settled())

    assert delivery_states(database) == {
        created: ("handled", None, True),
        deleted: ("ignored", "no handler for issue_comment.deleted", True),
    }
    assert installations(database) == [(957387, "Codertocat", ["Codertocat/Hello-World"], False)]
