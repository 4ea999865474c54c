"""Validate outgoing GitHub requests against GitHub's own OpenAPI description (the subset in
../shared/github/rest/), so that a test fails on any call GitHub would not understand.

Checked for every request: the method and path match an operation (path templates, where a
trailing `{path}`, `{ref}` or `{branch}` may span several segments), query parameter names are
declared by the operation (and enum/integer values fit), and a JSON body validates against the
operation's requestBody schema. Anything else raises AssertionError with the reason.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.conftest import shared_path

SUBSET = "github/rest/api.github.com.subset.json"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
# Parameters GitHub lets contain '/' (file paths, refs like heads/feature/x, branch names).
MULTI_SEGMENT_PARAMS = frozenset({"path", "ref", "branch"})
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Operation:
    """One operation of the description, with what a request must satisfy."""

    method: str
    template: str
    operation_id: str
    query_params: dict[str, dict[str, Any]]
    path_params: dict[str, dict[str, Any]]
    body_schema_ref: str | None
    body_required: bool
    patterns: tuple[re.Pattern[str], ...] = field(repr=False)
    literal_segments: int = 0


@dataclass(frozen=True)
class MatchedRequest:
    operation: Operation
    path_params: dict[str, str]
    query: dict[str, str]
    body: Any


def drop_discriminators(node: Any) -> None:
    """Remove `discriminator` keys, which make validators chase schemas that do not exist."""
    if isinstance(node, dict):
        node.pop("discriminator", None)
        for value in node.values():
            drop_discriminators(value)
    elif isinstance(node, list):
        for value in node:
            drop_discriminators(value)


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _patterns(template: str) -> tuple[re.Pattern[str], ...]:
    """Strict pattern (one segment per parameter) first, then the multi-segment variant."""

    def build(multi: bool) -> re.Pattern[str]:
        out, pos = [], 0
        for m in _PARAM.finditer(template):
            out.append(re.escape(template[pos : m.start()]))
            name = m.group(1)
            wide = multi and name in MULTI_SEGMENT_PARAMS
            out.append(f"(?P<{name}>{'.+' if wide else '[^/]+'})")
            pos = m.end()
        out.append(re.escape(template[pos:]))
        return re.compile("".join(out) + r"\Z")

    strict = build(multi=False)
    if not any(name in MULTI_SEGMENT_PARAMS for name in _PARAM.findall(template)):
        return (strict,)
    return (strict, build(multi=True))


class GitHubOpenAPI:
    """The operations of the subset, and a validator for requests against them."""

    def __init__(self, document: dict[str, Any]) -> None:
        drop_discriminators(document)
        self.document = document
        self.registry: Registry = Registry().with_resource(
            "urn:gh", Resource.from_contents(document, default_specification=DRAFT4)
        )
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            shared_params = item.get("parameters", [])
            for method, op in item.items():
                if method not in HTTP_METHODS:
                    continue
                params = [self._resolve(p) for p in [*shared_params, *op.get("parameters", [])]]
                body = op.get("requestBody")
                ref = None
                if body is not None and "application/json" in body.get("content", {}):
                    ref = (
                        f"urn:gh#/paths/{_escape_pointer(template)}/{method}"
                        "/requestBody/content/application~1json/schema"
                    )
                self.operations.append(
                    Operation(
                        method=method.upper(),
                        template=template,
                        operation_id=op.get("operationId", ""),
                        query_params={p["name"]: p for p in params if p["in"] == "query"},
                        path_params={p["name"]: p for p in params if p["in"] == "path"},
                        body_schema_ref=ref,
                        body_required=bool(body and body.get("required")),
                        patterns=_patterns(template),
                        literal_segments=len(_PARAM.sub("", template).strip("/").split("/")),
                    )
                )
        # Most literal segments first, so /issues/comments/{id} wins over /issues/{number}/...
        self.operations.sort(key=lambda op: -op.literal_segments)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for token in node["$ref"].removeprefix("#/").split("/"):
                target = target[token.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    @functools.cached_property
    def templates(self) -> set[tuple[str, str]]:
        return {(op.method, op.template) for op in self.operations}

    def body_validator(self, operation: Operation) -> OAS30Validator:
        assert operation.body_schema_ref is not None
        return OAS30Validator({"$ref": operation.body_schema_ref}, registry=self.registry)

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The operation for METHOD and an API-relative PATH, or AssertionError."""
        method = method.upper()
        path_matches: list[tuple[Operation, dict[str, str]]] = []
        for strictness in (0, 1):
            for op in self.operations:
                if strictness >= len(op.patterns):
                    continue
                m = op.patterns[strictness].match(path)
                if m:
                    params = {k: unquote(v) for k, v in m.groupdict().items()}
                    path_matches.append((op, params))
            if path_matches:
                break
        for op, params in path_matches:
            if op.method == method:
                return op, params
        if path_matches:
            allowed = sorted({op.method for op, _ in path_matches})
            raise AssertionError(
                f"GitHub has no {method} {path}: {path_matches[0][0].template} allows only "
                f"{', '.join(allowed)}"
            )
        raise AssertionError(
            f"{method} {path} matches no operation of GitHub's REST description "
            f"(subset: {SUBSET}); add the operation there or fix the URL"
        )

    def validate(self, request: httpx.Request, *, base_url: str) -> MatchedRequest:
        """Check REQUEST against the description; return what it matched, or AssertionError."""
        base = urlsplit(base_url)
        url = request.url
        if (url.scheme, url.host, url.port) != (base.scheme, base.hostname, base.port):
            raise AssertionError(f"{request.method} {url} is not addressed to {base_url}")
        raw_path = url.raw_path.decode("ascii").split("?", 1)[0]
        prefix = base.path.rstrip("/")
        if not raw_path.startswith(prefix + "/"):
            raise AssertionError(f"{request.method} {url} is outside the API root {base_url}")
        operation, path_params = self.match(request.method, raw_path[len(prefix) :])
        query = dict(parse_qsl(url.query.decode("ascii"), keep_blank_values=True))
        self._check_params(operation, path_params, declared=operation.path_params, kind="path")
        self._check_params(operation, query, declared=operation.query_params, kind="query")
        body = self._check_body(operation, request)
        return MatchedRequest(operation, path_params, query, body)

    def _check_params(
        self,
        operation: Operation,
        values: dict[str, str],
        *,
        declared: dict[str, dict[str, Any]],
        kind: str,
    ) -> None:
        where = f"{operation.method} {operation.template}"
        for name, value in values.items():
            param = declared.get(name)
            if param is None:
                raise AssertionError(
                    f"{where} declares no {kind} parameter {name!r} "
                    f"(it has: {', '.join(sorted(declared)) or 'none'})"
                )
            schema = self._resolve(param.get("schema", {}))
            if "enum" in schema and value not in schema["enum"]:
                raise AssertionError(f"{where}: {name}={value!r} is not one of {schema['enum']}")
            if schema.get("type") == "integer" and not value.lstrip("-").isdigit():
                raise AssertionError(f"{where}: {name}={value!r} is not an integer")

    def _check_body(self, operation: Operation, request: httpx.Request) -> Any:
        where = f"{operation.method} {operation.template}"
        content = request.content
        if not content:
            if operation.body_required:
                raise AssertionError(f"{where} requires a JSON body and got none")
            return None
        if operation.body_schema_ref is None:
            raise AssertionError(f"{where} takes no request body, but one was sent")
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            raise AssertionError(f"{where}: body sent as {content_type!r}, not application/json")
        try:
            body = json.loads(content)
        except ValueError as exc:
            raise AssertionError(f"{where}: body is not JSON ({exc})") from None
        errors = sorted(
            self.body_validator(operation).iter_errors(body), key=lambda e: list(e.path)
        )
        if errors:
            details = "; ".join(_describe(e) for e in errors[:5])
            raise AssertionError(f"{where}: body does not match GitHub's schema: {details}")
        return body


def _describe(error: ValidationError) -> str:
    """Where and why, naming the closest alternative when a oneOf/anyOf failed as a whole."""
    where = "/".join(map(str, error.absolute_path)) or "<body>"
    text = error.message[:200]
    if error.context:
        closest = best_match(error.context)
        text += f" (closest alternative: {closest.message[:200]})"
    return f"{where}: {text}"


@functools.cache
def _load(path: str) -> GitHubOpenAPI:
    with open(path, encoding="utf-8") as fh:
        return GitHubOpenAPI(json.load(fh))


def github_openapi() -> GitHubOpenAPI:
    """The parsed subset (loaded once per session), or skip when ../shared/ is absent."""
    return _load(str(shared_path(SUBSET)))
