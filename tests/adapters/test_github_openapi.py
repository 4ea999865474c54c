"""The request validator every GitHub test relies on must refuse what GitHub would refuse."""

from __future__ import annotations

import httpx
import pytest

from tests.github_openapi import GitHubOpenAPI, github_openapi

API = "https://api.github.com"
SHA = "a" * 40


@pytest.fixture(scope="module")
def api() -> GitHubOpenAPI:
    return github_openapi()


def request(method: str, path: str, body: object = None) -> httpx.Request:
    if body is None:
        return httpx.Request(method, API + path)
    return httpx.Request(method, API + path, json=body)


def test_unknown_route_is_rejected(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="matches no operation"):
        api.validate(request("GET", "/repos/o/r/issues/1/labels"), base_url=API)


def test_wrong_method_is_rejected_naming_the_allowed_ones(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="allows only DELETE, GET, PATCH"):
        api.validate(request("PUT", "/repos/o/r/issues/comments/5", {"body": "x"}), base_url=API)


def test_completed_check_run_without_conclusion_is_rejected(api: GitHubOpenAPI) -> None:
    body = {"name": "ci", "head_sha": SHA, "status": "completed"}
    with pytest.raises(AssertionError, match="'conclusion' is a required property"):
        api.validate(request("POST", "/repos/o/r/check-runs", body), base_url=API)


def test_valid_check_run_passes_and_reports_the_operation(api: GitHubOpenAPI) -> None:
    body = {"name": "ci", "head_sha": SHA, "status": "completed", "conclusion": "success"}
    matched = api.validate(request("POST", "/repos/o/r/check-runs", body), base_url=API)
    assert matched.operation.template == "/repos/{owner}/{repo}/check-runs"
    assert matched.path_params == {"owner": "o", "repo": "r"}
    assert matched.body == body


def test_enum_violation_in_body_is_rejected(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="state: 'weird' is not one of"):
        api.validate(
            request("POST", "/repos/o/r/deployments/4/statuses", {"state": "weird"}), base_url=API
        )


def test_missing_required_body_is_rejected(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="requires a JSON body"):
        api.validate(request("POST", "/repos/o/r/issues/1/comments"), base_url=API)


def test_body_on_an_operation_without_one_is_rejected(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="takes no request body"):
        api.validate(request("POST", "/app/hook/deliveries/5/attempts", {}), base_url=API)


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/repos/o/r/contents/feedstock/meta.yaml", "path", "feedstock/meta.yaml"),
        ("/repos/o/r/contents/feedstock%2Fmeta.yaml", "path", "feedstock/meta.yaml"),
        ("/repos/o/r/commits/feature/x/check-runs", "ref", "feature/x"),
    ],
)
def test_path_parameters_may_span_segments_where_github_allows(
    api: GitHubOpenAPI, path: str, name: str, value: str
) -> None:
    matched = api.validate(request("GET", path), base_url=API)
    assert matched.path_params[name] == value


def test_more_literal_template_wins(api: GitHubOpenAPI) -> None:
    matched = api.validate(request("GET", "/repos/o/r/issues/comments/7"), base_url=API)
    assert matched.operation.template == "/repos/{owner}/{repo}/issues/comments/{comment_id}"


def test_undeclared_query_parameter_is_rejected(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="declares no query parameter 'page'"):
        api.validate(request("GET", "/app/hook/deliveries?page=2"), base_url=API)


def test_non_integer_path_parameter_is_rejected(api: GitHubOpenAPI) -> None:
    with pytest.raises(AssertionError, match="issue_number='abc' is not an integer"):
        api.validate(request("POST", "/repos/o/r/issues/abc/comments", {"body": "x"}), base_url=API)


def test_request_to_another_host_is_rejected(api: GitHubOpenAPI) -> None:
    stray = httpx.Request("GET", "https://example.com/repos/o/r")
    with pytest.raises(AssertionError, match="is not addressed to"):
        api.validate(stray, base_url=API)


def test_api_root_with_a_path_prefix(api: GitHubOpenAPI) -> None:
    ghes = "https://ghe.example.com/api/v3"
    matched = api.validate(httpx.Request("GET", f"{ghes}/repos/o/r"), base_url=ghes)
    assert matched.operation.template == "/repos/{owner}/{repo}"
    with pytest.raises(AssertionError, match="outside the API root"):
        api.validate(httpx.Request("GET", "https://ghe.example.com/repos/o/r"), base_url=ghes)
