"""Check the simulator's JSON against GitHub's own schemas, naming the field that fails.

- REST answers: the response schema GitHub's OpenAPI description (../shared subset) gives an
  operation for a status code, with OpenAPI 3.0 formats (date-time, int64) checked.
- Webhook bodies: octokit's draft-07 schema of the event and action (`pull_request/opened`).
Neither checks `format: uri` here (that needs the rfc3987 package), so both helpers also require
every `*_url` value to be an absolute URL.

Also the realistic instances the two test modules share (URLs, times, a repository, a PR).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from pangeo_forge_orchestrator.sandbox import objects
from tests.conftest import shared_path
from tests.github_openapi import HTTP_METHODS, github_openapi

WEBHOOK_SCHEMAS = "github/webhooks/schemas/api.github.com"
URL_SCHEMES = frozenset({"http", "https", "file", "git"})


# ---- REST responses -------------------------------------------------------------------------


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def response_schema_ref(method: str, template: str, status: int) -> str:
    """The `urn:gh#...` pointer to the JSON schema of METHOD TEMPLATE's STATUS answer."""
    document = github_openapi().document
    operation = document["paths"][template][method.lower()]
    response = operation["responses"][str(status)]
    pointer = f"#/paths/{_escape(template)}/{method.lower()}/responses/{status}"
    if "$ref" in response:  # a shared answer under components/responses
        pointer = response["$ref"]
        name = pointer.rsplit("/", 1)[-1]
        response = document["components"]["responses"][name]
    assert "application/json" in response.get("content", {}), (
        f"{method} {template} answers {status} with no JSON body"
    )
    return f"urn:gh{pointer}/content/application~1json/schema"


def json_responses() -> set[tuple[str, str, int]]:
    """Every (METHOD, template, status) of the subset whose success answer has a JSON body."""
    document = github_openapi().document
    found = set()
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for code, response in operation["responses"].items():
                if not code.startswith("2"):
                    continue
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    response = document["components"]["responses"][name]
                if "application/json" in response.get("content", {}):
                    found.add((method.upper(), template, int(code)))
    return found


def _where(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _describe(error: ValidationError) -> str:
    """Field path, what failed, and for a failed oneOf/anyOf the closest alternative's reason."""
    text = f"{_where(error)}: {error.message[:300]}"
    if error.context:
        closest = best_match(error.context)
        text += f" (closest alternative: {_where(closest)}: {closest.message[:300]})"
    return text


def _raise_if(errors: list[ValidationError], what: str) -> None:
    if errors:
        errors.sort(key=lambda e: [str(p) for p in e.absolute_path])
        details = "\n  ".join(_describe(e) for e in errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise AssertionError(f"{what} does not match GitHub's schema:\n  {details}{more}")


def _null_in_nullable_enum(error: ValidationError) -> bool:
    """A null refused only by an `enum` of a `nullable` schema.

    GitHub means `nullable: true` + `enum` as "one of these, or null" (an in-progress check run's
    conclusion is null), the OpenAPI 3.0.0 reading; the validator applies 3.0.3's stricter one.
    """
    return error.validator == "enum" and error.instance is None and error.schema.get("nullable")


def _validate_rest(ref: str, body: Any, what: str) -> None:
    validator = OAS30Validator(
        {"$ref": ref}, registry=github_openapi().registry, format_checker=oas30_format_checker
    )
    errors = [e for e in validator.iter_errors(body) if not _null_in_nullable_enum(e)]
    _raise_if(errors, what)
    assert_urls_absolute(body, what=what)


def assert_rest_response(method: str, template: str, status: int, body: Any) -> None:
    """BODY is a valid STATUS answer of METHOD TEMPLATE, or AssertionError naming the fields."""
    ref = response_schema_ref(method, template, status)
    _validate_rest(ref, body, f"{method} {template} {status}")


def assert_component(name: str, body: Any) -> None:
    """BODY is valid against components/schemas/NAME (for bodies of non-2xx answers)."""
    _validate_rest(f"urn:gh#/components/schemas/{name}", body, f"schema {name}")


def _urls(node: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if isinstance(value, str) and (key.endswith("url") or key in ("href", "self")):
                yield here, value
            else:
                yield from _urls(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _urls(value, f"{path}[{i}]")


def assert_urls_absolute(body: Any, *, what: str = "body") -> None:
    """Every non-empty `*url`/`href` value is an absolute URL (ssh_url is scp-like, skipped)."""
    bad = [
        f"{where}={value!r}"
        for where, value in _urls(body)
        if value and not where.endswith(".ssh_url") and urlsplit(value).scheme not in URL_SCHEMES
    ]
    assert not bad, f"{what}: not absolute URLs: {', '.join(bad)}"


# ---- webhook payloads -----------------------------------------------------------------------


@functools.cache
def _webhook_registry(root: str) -> Registry:
    def retrieve(uri: str) -> Resource:
        contents = json.loads((Path(root) / uri).read_text(encoding="utf-8"))
        return Resource.from_contents(contents, default_specification=DRAFT7)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def assert_webhook(event: str, payload: dict[str, Any]) -> None:
    """PAYLOAD is a valid EVENT delivery for its action (schema `<event>/<action>.schema.json`)."""
    root = shared_path(WEBHOOK_SCHEMAS)
    path = root / event / f"{payload['action']}.schema.json"
    assert path.exists(), f"GitHub has no {event} {payload['action']} webhook schema"
    validator = Draft7Validator(
        json.loads(path.read_text(encoding="utf-8")),
        registry=_webhook_registry(str(root)),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    what = f"{event} {payload['action']} payload"
    _raise_if(list(validator.iter_errors(payload)), what)
    assert_urls_absolute(payload, what=what)


# ---- realistic instances --------------------------------------------------------------------

URLS = objects.Urls(
    api="http://127.0.0.1:8000/sandbox/github", web="http://127.0.0.1:8000/sandbox/web"
)
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
T1 = datetime(2024, 5, 6, 8, 0, 0, tzinfo=UTC)
T2 = datetime(2024, 5, 6, 9, 30, 0, tzinfo=UTC)
HEAD_SHA = "1f0c2a4e6b8d0f1a3c5e7b9d1f3a5c7e9b1d3f5a"
BASE_SHA = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
MERGE_SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def sample_repo(
    name: str = "staged-recipes", *, owner: str = "pangeo-forge", **overrides: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "repo_id": 301_234,
        "owner": owner,
        "name": name,
        "private": False,
        "default_branch": "main",
        "clone_url": f"file:///tmp/pfo/sandbox/git/{owner}/{name}.git",
        "created_at": T0,
        "updated_at": T1,
        "pushed_at": T1,
        **overrides,
    }
    return objects.repository(URLS, **values)


def sample_pull(repo: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """An open pull request adding a recipe; OVERRIDES change any builder argument."""
    values: dict[str, Any] = {
        "repo": repo or sample_repo(),
        "pull_id": 1_700_001,
        "number": 7,
        "state": "open",
        "title": "Add gpcp recipe",
        "body": "A new recipe for GPCP.",
        "user_login": "contributor",
        "head_ref": "add-gpcp",
        "head_sha": HEAD_SHA,
        "base_ref": "main",
        "base_sha": BASE_SHA,
        "created_at": T0,
        "updated_at": T1,
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "merged_by": None,
        "draft": False,
        "changed_files": 2,
        "additions": 40,
        "deletions": 0,
        "commits": 1,
        **overrides,
    }
    return objects.pull_request(URLS, **values)


def merged_pull(repo: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "state": "closed",
        "closed_at": T2,
        "merged_at": T2,
        "merge_commit_sha": MERGE_SHA,
        "merged_by": "maintainer",
        "updated_at": T2,
        **overrides,
    }
    return sample_pull(repo, **values)
