"""POST /github/hooks/: verified deliveries are stored with their job; others store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pangeo_forge_orchestrator.app import create_app
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.webhooks import receive
from tests.conftest import shared_path
from tests.webhooks.helpers import (
    HOOKS,
    SECRET,
    app_settings,
    example,
    example_files,
    headers_for,
    sign,
    stored,
)

PING = "examples/ping/with-app_id.payload.json"
GUID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    response = client.post(HOOKS, content=body, headers=headers)
    return response.status_code, response.json()


def test_every_example_delivery_is_accepted_and_stored(
    client: TestClient, database: Database
) -> None:
    shared_path("github/webhooks/examples")
    files = example_files()
    assert len(files) >= 66, "expected the 53 + 3 + 10 example deliveries of ../shared"
    expected = {}
    for path in files:
        body = path.read_bytes()
        headers = headers_for(body, event=path.parent.name)
        status, answer = post(client, body, headers)
        assert (status, answer) == (
            202,
            {"delivery": headers["X-GitHub-Delivery"], "duplicate": False},
        ), path
        payload = json.loads(body)
        expected[headers["X-GitHub-Delivery"]] = (
            path.parent.name,
            payload.get("action"),
            (payload.get("repository") or {}).get("full_name"),
            (payload.get("installation") or {}).get("id"),
            payload,
        )

    rows = stored(database)
    assert {
        row.guid: (row.event, row.action, row.repository, row.installation_id, row.payload)
        for row in rows.deliveries
    } == expected
    assert all(row.status == "queued" for row in rows.deliveries)
    assert [(job.delivery_id, job.kind, job.payload, job.dedupe_key) for job in rows.jobs] == [
        (row.id, "handle_delivery", {"delivery_id": row.id}, f"delivery:{row.guid}")
        for row in rows.deliveries
    ]


def test_a_repeated_guid_is_acknowledged_as_duplicate_and_queued_once(
    client: TestClient, database: Database
) -> None:
    body = example(PING)
    headers = headers_for(body, event="ping", guid=GUID)

    first = post(client, body, headers)
    second = post(client, body, headers)

    assert first == (202, {"delivery": GUID, "duplicate": False})
    assert second == (202, {"delivery": GUID, "duplicate": True})
    rows = stored(database)
    assert [row.guid for row in rows.deliveries] == [GUID]
    assert len(rows.jobs) == 1


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"X-Hub-Signature-256": None}, 401, receive.BAD_SIGNATURE),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401, receive.BAD_SIGNATURE),
        ({"X-Hub-Signature-256": "signed by me"}, 401, receive.BAD_SIGNATURE),
        ({"X-GitHub-Event": None}, 400, receive.MISSING_EVENT),
        ({"X-GitHub-Delivery": None}, 400, receive.MISSING_DELIVERY),
        (
            {"X-GitHub-Delivery": "not a guid; DROP TABLE"},
            400,
            receive.BAD_HEADER.format(header="x-github-delivery"),
        ),
    ],
)
def test_bad_headers_are_refused_and_nothing_is_stored(
    client: TestClient,
    database: Database,
    change: dict[str, str | None],
    status: int,
    detail: str,
) -> None:
    body = example(PING)
    headers = headers_for(body, event="ping")
    for name, value in change.items():
        headers.pop(name)
        if value is not None:
            headers[name] = value

    assert post(client, body, headers) == (status, {"detail": detail})
    assert stored(database).deliveries == []


def test_a_signature_made_for_other_bytes_is_refused(
    client: TestClient, database: Database
) -> None:
    body = example(PING)
    headers = headers_for(body, event="ping")

    assert post(client, body + b"\n", headers)[0] == 401  # still JSON, not the signed bytes
    assert stored(database).deliveries == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"zen": "Design for failure.", "hook": {"type": "Repo',  # truncated
        b"",
        b"[1, 2, 3]",  # JSON, but not an object
        b'"a string"',
        b"\xff\xfe{}",  # not UTF-8
        b'{"zen": "\\ud800"}',  # a lone surrogate, which Postgres would refuse
    ],
    ids=["truncated", "empty", "array", "string", "not-utf8", "lone-surrogate"],
)
def test_a_body_that_is_not_a_json_object_is_refused_and_nothing_is_stored(
    client: TestClient, database: Database, body: bytes
) -> None:
    status, answer = post(client, body, headers_for(body, event="ping"))

    assert (status, answer) == (400, {"detail": receive.NOT_JSON})
    assert stored(database).deliveries == []


def test_a_body_over_25_mb_is_refused_by_its_declared_length(
    client: TestClient, database: Database
) -> None:
    body = b'{"zen": "' + b"x" * receive.MAX_BODY_BYTES + b'"}'

    status, answer = post(client, body, headers_for(body, event="ping"))

    assert (status, answer) == (413, {"detail": receive.BODY_TOO_LARGE})
    assert stored(database).deliveries == []


def test_a_chunked_body_is_cut_off_once_it_passes_25_mb(
    client: TestClient, database: Database
) -> None:
    chunk = b"x" * (1024 * 1024)
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"zen": "'
        for _ in range(30):
            sent += 1
            yield chunk

    headers = headers_for(b"", event="ping")
    response = client.post(HOOKS, content=chunks(), headers=headers)

    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert (response.status_code, response.json()) == (413, {"detail": receive.BODY_TOO_LARGE})
    assert stored(database).deliveries == []


def test_the_previous_secret_is_accepted_during_a_rotation(
    database_url: str, database: Database
) -> None:
    settings = app_settings(
        database_url,
        github_webhook_secret=SecretStr("new-secret"),
        github_webhook_secret_previous=SecretStr(SECRET),
    )
    body = example(PING)
    with TestClient(create_app(settings, database=database)) as client:
        by_old = post(client, body, headers_for(body, event="ping", secret=SECRET))
        by_new = post(client, body, headers_for(body, event="ping", secret="new-secret"))
        by_unknown = post(client, body, headers_for(body, event="ping", secret="guessed"))

    assert (by_old[0], by_new[0], by_unknown[0]) == (202, 202, 401)
    assert len(stored(database).deliveries) == 2


@pytest.mark.parametrize(
    "missing",
    [
        {"github_webhook_secret": None},
        {"github_app_id": None},
        {"github_app_private_key": None},
    ],
    ids=["no-secret", "no-app-id", "no-key"],
)
def test_an_unconfigured_github_app_answers_503(
    database_url: str, database: Database, missing: dict[str, None]
) -> None:
    settings = app_settings(database_url, **missing)
    body = example(PING)
    with TestClient(create_app(settings, database=database)) as client:
        status, answer = post(client, body, headers_for(body, event="ping"))

    assert (status, answer) == (503, {"detail": receive.NOT_CONFIGURED})
    assert stored(database).deliveries == []


def test_a_form_encoded_delivery_is_read_from_its_payload_field(
    client: TestClient, database: Database
) -> None:
    from urllib.parse import urlencode

    payload = json.loads(example(PING))
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = headers_for(body, event="ping", content_type=receive.FORM_CONTENT_TYPE)

    assert post(client, body, headers)[0] == 202
    (row,) = stored(database).deliveries
    assert row.payload == payload


def test_nul_characters_are_replaced_so_postgres_can_store_the_payload(
    client: TestClient, database: Database
) -> None:
    body = b'{"zen": "a\\u0000b", "hook_id": 1, "note": "keep \\\\u0000 as text"}'

    assert post(client, body, headers_for(body, event="ping"))[0] == 202
    (row,) = stored(database).deliveries
    assert row.payload == {"zen": "a\ufffdb", "hook_id": 1, "note": "keep \\u0000 as text"}


class TestDataflowCallback:
    """The original status monitor's callback: form-encoded, signed, without a delivery GUID."""

    BODY = b"action=completed&recipe_run_id=42&conclusion=success"

    def headers(self, body: bytes, secret: str = SECRET) -> dict[str, str]:
        return {
            "Content-Type": receive.FORM_CONTENT_TYPE,
            "X-GitHub-Event": "dataflow",
            "X-Hub-Signature-256": sign(body, secret),
        }

    def test_is_stored_and_queued_under_a_guid_made_of_run_and_conclusion(
        self, client: TestClient, database: Database
    ) -> None:
        first = post(client, self.BODY, self.headers(self.BODY))
        again = post(client, self.BODY, self.headers(self.BODY))

        assert first == (202, {"delivery": "dataflow:42:success", "duplicate": False})
        assert again == (202, {"delivery": "dataflow:42:success", "duplicate": True})
        rows = stored(database)
        assert [(r.event, r.action, r.repository, r.payload) for r in rows.deliveries] == [
            (
                "dataflow",
                "completed",
                None,
                {"action": "completed", "recipe_run_id": 42, "conclusion": "success"},
            )
        ]
        assert len(rows.jobs) == 1

    def test_another_conclusion_of_the_same_run_is_a_new_delivery(
        self, client: TestClient, database: Database
    ) -> None:
        failure = b"action=completed&recipe_run_id=42&conclusion=failure"
        post(client, self.BODY, self.headers(self.BODY))

        assert post(client, failure, self.headers(failure))[1] == {
            "delivery": "dataflow:42:failure",
            "duplicate": False,
        }

    def test_signed_with_another_apps_secret_is_refused(
        self, client: TestClient, database: Database
    ) -> None:
        assert post(client, self.BODY, self.headers(self.BODY, secret="other-app"))[0] == 401
        assert stored(database).deliveries == []

    @pytest.mark.parametrize(
        "body",
        [
            b"action=completed&recipe_run_id=forty-two&conclusion=success",
            b"action=completed&recipe_run_id=%C2%B2&conclusion=success",
            b"action=completed&conclusion=success",
            b"action=completed&recipe_run_id=42",
            b"recipe_run_id=42&conclusion=success",
            b"action=completed&recipe_run_id=42&conclusion=no%20way",
        ],
    )
    def test_a_malformed_form_is_refused(
        self, client: TestClient, database: Database, body: bytes
    ) -> None:
        assert post(client, body, self.headers(body)) == (
            400,
            {"detail": receive.BAD_DATAFLOW},
        )
        assert stored(database).deliveries == []


def test_a_delivery_that_cannot_be_stored_is_not_acknowledged(database_url: str) -> None:
    missing = sa.engine.make_url(database_url).set(database="no_such_database")
    unreachable = Database.from_url(missing.render_as_string(hide_password=False))
    body = example(PING)
    try:
        with TestClient(create_app(app_settings(database_url), database=unreachable)) as client:
            status, answer = post(client, body, headers_for(body, event="ping"))
    finally:
        unreachable.dispose()

    assert (status, answer) == (503, {"detail": receive.NOT_STORED})
