"""The OpenAPI document: tagged routes, documented responses, the API key on writes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


MODEL_PATHS = [
    "/bakeries/",
    "/bakeries/{bakery_id}",
    "/feedstocks/",
    "/feedstocks/{feedstock_id}",
    "/feedstocks/{feedstock_id}/datasets",
    "/recipe_runs/",
    "/recipe_runs/{recipe_run_id}",
    "/stats/recipe_runs",
    "/stats/bakeries",
    "/stats/feedstocks",
    "/stats/datasets",
]


def test_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_reads_are_public_and_writes_admin_with_the_api_key(spec: dict[str, Any]) -> None:
    for path in MODEL_PATHS:
        for method, operation in spec["paths"][path].items():
            if method == "get":
                assert operation["tags"] == ["public"], path
                assert "security" not in operation, path
            else:
                assert operation["tags"] == ["admin"], (method, path)
                assert operation["security"] == [{"APIKey": []}], (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_the_slashless_duplicates_are_not_documented(spec: dict[str, Any]) -> None:
    assert not {"/bakeries", "/feedstocks", "/recipe_runs"} & set(spec["paths"])


def test_responses_are_described_by_their_models(spec: dict[str, Any]) -> None:
    def schema(path: str, status: str = "200") -> Any:
        content = spec["paths"][path]["get"]["responses"][status]["content"]
        return content["application/json"]["schema"]

    assert schema("/recipe_runs/")["items"] == {"$ref": "#/components/schemas/RecipeRunRead"}
    assert schema("/recipe_runs/{recipe_run_id}") == {
        "$ref": "#/components/schemas/RecipeRunWithRelations"
    }
    assert schema("/recipe_runs/{recipe_run_id}", "404") == {"$ref": "#/components/schemas/Problem"}
    run = spec["components"]["schemas"]["RecipeRunRead"]["properties"]
    assert "failure_detail" not in run


def test_order_by_lists_the_columns(spec: dict[str, Any]) -> None:
    parameters = spec["paths"]["/bakeries/"]["get"]["parameters"]
    [order_by] = [p for p in parameters if p["name"] == "order_by"]

    assert order_by["schema"]["enum"] == ["id", "name", "region", "description", "kind"]
