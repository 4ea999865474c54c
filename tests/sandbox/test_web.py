"""The simulator's web pages and API, mounted in an app as sandbox mode mounts them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from pangeo_forge_orchestrator.sandbox.mode import API_PREFIX, WEB_PREFIX
from pangeo_forge_orchestrator.sandbox.web import WebPages
from tests.sandbox.conftest import MAX, OTTO, STAGED, SimAPI
from tests.sandbox.test_simulator import open_pull

pytestmark = pytest.mark.anyio
BASE = "http://sim.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def browser(api: SimAPI) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette()
    app.mount(API_PREFIX, api.sim)
    app.mount(WEB_PREFIX, WebPages(api.sim))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def story(api: SimAPI) -> dict[str, object]:
    """A pull request with a comment <by otto> and a finished check run."""
    pull = open_pull(api)
    body = {"body": "Looks <good>"}
    api.ok("POST", f"/repos/{STAGED}/issues/1/comments", body, auth=api.user(OTTO), status=201)
    run = {
        "name": "recipe-runs",
        "head_sha": pull["head"]["sha"],
        "conclusion": "success",
        "output": {"title": "1 recipe run queued", "summary": "gpcp"},
    }
    api.ok("POST", f"/repos/{STAGED}/check-runs", run, auth=api.installation(), status=201)
    return pull


async def test_the_repository_page_lists_its_pull_requests(
    api: SimAPI, browser: httpx.AsyncClient
) -> None:
    story(api)
    page = await browser.get(f"{WEB_PREFIX}/{STAGED}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "#1 Add gpcp" in page.text
    assert "README.md" in page.text
    index = await browser.get(f"{WEB_PREFIX}/")
    assert STAGED in index.text


async def test_the_pull_request_page_shows_comments_and_checks(
    api: SimAPI, browser: httpx.AsyncClient
) -> None:
    pull = story(api)
    page = await browser.get(f"{WEB_PREFIX}/{STAGED}/pull/1")
    assert page.status_code == 200
    assert "Looks &lt;good&gt;" in page.text  # escaped, never raw HTML from a comment
    assert "recipe-runs" in page.text
    assert "1 recipe run queued" in page.text
    assert str(pull["html_url"]).endswith(f"{STAGED}/pull/1")


async def test_a_file_page_shows_its_content(api: SimAPI, browser: httpx.AsyncClient) -> None:
    page = await browser.get(f"{WEB_PREFIX}/{STAGED}/blob/main/README.md")
    assert page.status_code == 200
    assert "# staged-recipes" in page.text


async def test_a_directory_page_lists_its_files(api: SimAPI, browser: httpx.AsyncClient) -> None:
    story(api)
    page = await browser.get(f"{WEB_PREFIX}/{STAGED}/tree/add-gpcp/recipes/gpcp")
    assert page.status_code == 200
    assert "recipes/gpcp/meta.yaml" in page.text
    assert "README.md" not in page.text


@pytest.mark.parametrize(
    "path",
    [
        f"/{STAGED}/pull/9",
        "/nobody/nothing",
        f"/{STAGED}/blob/main/missing.txt",
        f"/{STAGED}/blob/main~1/README.md",
        f"/{STAGED}/blob/no-such-ref/README.md",
    ],
)
async def test_unknown_pages_are_404(browser: httpx.AsyncClient, path: str) -> None:
    page = await browser.get(WEB_PREFIX + path)
    assert page.status_code == 404


async def test_the_api_answers_through_the_mount(api: SimAPI, browser: httpx.AsyncClient) -> None:
    headers = {"authorization": api.user(MAX)}
    repo = await browser.get(f"{API_PREFIX}/repos/{STAGED}", headers=headers)
    assert repo.status_code == 200
    assert repo.json()["full_name"] == STAGED
    assert repo.headers["content-type"].startswith("application/json")
    broken = await browser.post(
        f"{API_PREFIX}/repos/{STAGED}/pulls",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["message"] == "Problems parsing JSON"
