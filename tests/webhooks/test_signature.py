from __future__ import annotations

import json

from pydantic import SecretStr

from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.webhooks.signature import (
    signature_for,
    signature_matches,
    webhook_secrets,
)
from tests.conftest import shared_path


def test_githubs_documented_test_vector() -> None:
    vector = json.loads(shared_path("github/signature-test-vector.json").read_text())
    secret, body = vector["secret"].encode(), vector["payload"].encode()

    assert signature_for(body, secret) == vector["signature_256"]
    assert signature_matches(body, vector["signature_256"], [secret])
    assert not signature_matches(body + b" ", vector["signature_256"], [secret])
    assert not signature_matches(body, vector["signature_256"], [b"another secret"])


def test_any_of_the_secrets_verifies() -> None:
    body = b'{"zen": "Design for failure."}'
    header = signature_for(body, b"old")

    assert signature_matches(body, header, [b"new", b"old"])
    assert not signature_matches(body, header, [b"new"])


def test_missing_malformed_or_non_ascii_headers_do_not_verify() -> None:
    body = b"{}"
    good = signature_for(body, b"s")

    assert not signature_matches(body, None, [b"s"])
    assert not signature_matches(body, "", [b"s"])
    assert not signature_matches(body, good.removeprefix("sha256="), [b"s"])
    assert not signature_matches(body, good.upper(), [b"s"])
    assert not signature_matches(body, "sha256=é" + good[8:], [b"s"])
    assert not signature_matches(body, good, [])


def test_webhook_secrets_lists_the_current_then_the_previous_secret() -> None:
    both = Settings(
        github_webhook_secret=SecretStr("new"), github_webhook_secret_previous=SecretStr("old")
    )
    current_only = Settings(github_webhook_secret=SecretStr("new"))

    assert webhook_secrets(both) == (b"new", b"old")
    assert webhook_secrets(current_only) == (b"new",)
    assert webhook_secrets(Settings()) == ()
