"""/feedstocks/{id}/datasets paging: the whole list by default, `limit` pages and `after_id`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Seed
from tests.api.test_paging import next_link, walk

DONE = {"status": "completed", "conclusion": "success", "dataset_type": "zarr"}


@pytest.fixture
def feedstock_id(seed: Seed) -> int:
    return seed.feedstock()


@pytest.fixture
def dataset_ids(seed: Seed, feedstock_id: int) -> list[int]:
    """105 datasets (more than a page): every third a production run; ids ascending."""
    bakery_id = seed.bakery()
    ids = []
    for i in range(105):
        ids += seed.runs(
            1,
            bakery_id=bakery_id,
            feedstock_id=feedstock_id,
            is_test=i % 3 != 0,
            dataset_public_url=f"https://x/{i}.zarr",
            **DONE,
        )
    # Not datasets: they must not take a place on any page.
    seed.runs(3, bakery_id=bakery_id, feedstock_id=feedstock_id, status="in_progress")
    return ids


def datasets_url(feedstock_id: int, query: str = "") -> str:
    return f"/feedstocks/{feedstock_id}/datasets{query}"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "all"])
def test_limit_outside_1_to_100_is_422(client: TestClient, feedstock_id: int, limit: str) -> None:
    response = client.get(datasets_url(feedstock_id, f"?limit={limit}"))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_negative_after_id_is_422(client: TestClient, feedstock_id: int) -> None:
    response = client.get(datasets_url(feedstock_id, "?after_id=-1"))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "after_id"]


def test_without_limit_every_dataset_comes_in_one_answer(
    client: TestClient, feedstock_id: int, dataset_ids: list[int]
) -> None:
    """What pangeo-forge.org reads: the whole list, newest first, without a next link."""
    response = client.get(datasets_url(feedstock_id))

    assert [row["id"] for row in response.json()] == dataset_ids[::-1]
    assert next_link(response) is None


def test_limit_pages_newest_first_and_links_reach_every_dataset(
    client: TestClient, feedstock_id: int, dataset_ids: list[int]
) -> None:
    first = client.get(datasets_url(feedstock_id, "?limit=40"))

    assert [row["id"] for row in first.json()] == dataset_ids[::-1][:40]
    assert next_link(first) == datasets_url(feedstock_id, f"?limit=40&after_id={dataset_ids[-40]}")
    seen, pages = walk(client, datasets_url(feedstock_id, "?limit=40"))
    assert seen == dataset_ids[::-1]
    assert pages == 3


def test_links_keep_the_type(client: TestClient, feedstock_id: int, dataset_ids: list[int]) -> None:
    production = dataset_ids[::3]  # i % 3 == 0

    response = client.get(datasets_url(feedstock_id, "?type=production&limit=10"))

    assert "type=production" in (next_link(response) or "")
    seen, pages = walk(client, datasets_url(feedstock_id, "?type=production&limit=10"))
    assert seen == production[::-1]
    assert pages == 4  # 35 datasets


def test_after_id_keeps_older_datasets_only(
    client: TestClient, feedstock_id: int, dataset_ids: list[int]
) -> None:
    after = dataset_ids[50]

    unbounded = client.get(datasets_url(feedstock_id, f"?after_id={after}")).json()
    page = client.get(datasets_url(feedstock_id, f"?after_id={after}&limit=5")).json()

    assert [row["id"] for row in unbounded] == dataset_ids[:50][::-1]
    assert [row["id"] for row in page] == dataset_ids[45:50][::-1]


def test_a_page_of_an_unknown_feedstock_is_empty(client: TestClient) -> None:
    response = client.get(datasets_url(999, "?limit=10&after_id=5"))

    assert response.status_code == 200
    assert response.json() == []
