"""The routes the benchmark drives, the ids they need, and a check that each answers right."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import sqlalchemy as sa

PAGE = 100
DEEP_SHARE = 0.9
RANDOM_IDS = 10_000
TYPICAL_FEEDSTOCK_RUNS = 100


@dataclass(frozen=True)
class Route:
    name: str
    role: str
    paths: list[str]
    target: bool = True  # False: a reference (no database, or the OFFSET the API should avoid)
    connections: int | None = None  # None: the run's concurrency
    # True: a URL of its own per request, so every answer is computed (no answer-cache hit).
    cold: bool = False


@dataclass(frozen=True)
class Fixtures:
    """Ids picked from the loaded data so that each route asks a meaningful question."""

    total_runs: int
    descending: bool
    deep_offset: int
    deep_after_id: int
    heavy_feedstock: int
    heavy_feedstock_runs: int
    typical_feedstock: int
    typical_feedstock_runs: int
    in_progress_runs: int
    random_ids: list[int]

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["random_ids"] = f"{len(self.random_ids)} ids, e.g. {self.random_ids[:5]}"
        return values


def items_of(body: Any) -> list[dict[str, Any]]:
    """A list page, whether the API answers a bare list (as the original did) or an envelope."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("items", "results", "data"):
            if isinstance(body.get(key), list):
                return list(body[key])
    raise ValueError(f"not a list page: {str(body)[:200]}")


def discover_fixtures(client: httpx.Client, engine: sa.Engine, rng: random.Random) -> Fixtures:
    first = items_of(client.get("/recipe_runs/", params={"limit": PAGE}).raise_for_status().json())
    descending = first[0]["id"] > first[-1]["id"]
    order = "DESC" if descending else "ASC"
    with engine.connect() as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM recipe_run")).scalar_one()
        deep_offset = int(total * DEEP_SHARE)
        # The last id of the page before the deep one: after_id continues right after it.
        deep_after_id = conn.execute(
            sa.text(f"SELECT id FROM recipe_run ORDER BY id {order} OFFSET :n LIMIT 1"),
            {"n": deep_offset - 1},
        ).scalar_one()
        per_feedstock = conn.execute(
            sa.text("SELECT feedstock_id, count(*) FROM recipe_run GROUP BY 1 ORDER BY 1")
        ).all()
        low, high = conn.execute(sa.text("SELECT min(id), max(id) FROM recipe_run")).one()
        in_progress = conn.execute(
            sa.text("SELECT count(*) FROM recipe_run WHERE status = 'in_progress'")
        ).scalar_one()
    heavy = max(per_feedstock, key=lambda row: row[1])
    typical = min(per_feedstock, key=lambda row: abs(row[1] - TYPICAL_FEEDSTOCK_RUNS))
    return Fixtures(
        total_runs=total,
        descending=descending,
        deep_offset=deep_offset,
        deep_after_id=deep_after_id,
        heavy_feedstock=heavy[0],
        heavy_feedstock_runs=heavy[1],
        typical_feedstock=typical[0],
        typical_feedstock_runs=typical[1],
        in_progress_runs=in_progress,
        random_ids=[rng.randint(low, high) for _ in range(RANDOM_IDS)],
    )


def routes_for(f: Fixtures) -> list[Route]:
    stats = [
        Route(f"GET /stats/{name}", f"stats_{name}", [f"/stats/{name}"])
        for name in ("recipe_runs", "feedstocks", "bakeries", "datasets")
    ]
    return [
        Route("GET /health (no database: the framework's ceiling)", "health", ["/health"], False),
        Route("GET /recipe_runs/?limit=100", "first_page", [f"/recipe_runs/?limit={PAGE}"]),
        Route(
            f"GET /recipe_runs/?limit=100&after_id={f.deep_after_id} (keyset, 90% deep)",
            "keyset_deep",
            [f"/recipe_runs/?limit={PAGE}&after_id={f.deep_after_id}"],
        ),
        # The same pages computed for every request (never answered from the answer cache):
        # what a page costs the first time after a write, and whether depth changes that.
        Route(
            "GET /recipe_runs/?limit=100 (uncached)",
            "first_page_cold",
            [f"/recipe_runs/?limit={PAGE}"],
            target=False,
            cold=True,
        ),
        Route(
            f"GET /recipe_runs/?limit=100&after_id={f.deep_after_id} (keyset, 90% deep, uncached)",
            "keyset_deep_cold",
            [f"/recipe_runs/?limit={PAGE}&after_id={f.deep_after_id}"],
            target=False,
            cold=True,
        ),
        # At 8 connections OFFSET pages take longer than the measured window (no request ends):
        # both deep pages are also measured one request at a time, for a like-for-like ratio.
        Route(
            f"GET /recipe_runs/?limit=100&offset={f.deep_offset} (OFFSET, 90% deep, 1 conn, "
            "uncached)",
            "offset_deep",
            [f"/recipe_runs/?limit={PAGE}&offset={f.deep_offset}"],
            target=False,
            connections=1,
            cold=True,
        ),
        Route(
            f"GET /recipe_runs/?limit=100&after_id={f.deep_after_id} (keyset, 90% deep, 1 conn, "
            "uncached)",
            "keyset_deep_single",
            [f"/recipe_runs/?limit={PAGE}&after_id={f.deep_after_id}"],
            target=False,
            connections=1,
            cold=True,
        ),
        Route(
            f"GET /recipe_runs/?feedstock_id={f.heavy_feedstock}&limit=100 "
            f"({f.heavy_feedstock_runs:,} runs)",
            "by_feedstock",
            [f"/recipe_runs/?feedstock_id={f.heavy_feedstock}&limit={PAGE}"],
        ),
        Route(
            f"GET /recipe_runs/?status=in_progress&limit=100 ({f.in_progress_runs:,} runs)",
            "by_status",
            [f"/recipe_runs/?status=in_progress&limit={PAGE}"],
        ),
        # The API does not keep these answers (random ids would rarely repeat); cold all the
        # same, so that a change there could not flatter this number.
        Route(
            "GET /recipe_runs/{id} (random ids, uncached)",
            "run_by_id",
            [f"/recipe_runs/{run_id}" for run_id in f.random_ids],
            cold=True,
        ),
        Route(
            f"GET /feedstocks/{f.typical_feedstock} ({f.typical_feedstock_runs} runs)",
            "feedstock_typical",
            [f"/feedstocks/{f.typical_feedstock}"],
        ),
        Route(
            f"GET /feedstocks/{f.heavy_feedstock} ({f.heavy_feedstock_runs:,} runs)",
            "feedstock_heavy",
            [f"/feedstocks/{f.heavy_feedstock}"],
        ),
        Route(
            f"GET /feedstocks/{f.typical_feedstock} ({f.typical_feedstock_runs} runs, uncached)",
            "feedstock_typical_cold",
            [f"/feedstocks/{f.typical_feedstock}"],
            target=False,
            cold=True,
        ),
        *stats,
        # Not among the measured routes: the website's dataset list, for the record.
        Route(
            f"GET /feedstocks/{f.typical_feedstock}/datasets (extra)",
            "datasets_typical",
            [f"/feedstocks/{f.typical_feedstock}/datasets"],
            target=False,
        ),
        Route(
            f"GET /feedstocks/{f.heavy_feedstock}/datasets (extra)",
            "datasets_heavy",
            [f"/feedstocks/{f.heavy_feedstock}/datasets"],
            target=False,
        ),
        Route(
            f"GET /feedstocks/{f.heavy_feedstock}/datasets?limit=100 (extra, one page)",
            "datasets_heavy_page",
            [f"/feedstocks/{f.heavy_feedstock}/datasets?limit={PAGE}"],
            target=False,
        ),
    ]


def _check(route: Route, body: Any, f: Fixtures, client: httpx.Client) -> list[str]:
    """What is wrong with one answer of `route` (empty when it is right)."""
    problems: list[str] = []
    pages = {"first_page", "keyset_deep", "keyset_deep_single", "offset_deep"}
    pages |= {"first_page_cold", "keyset_deep_cold"}
    if route.role in pages | {"by_feedstock", "by_status"}:
        items = items_of(body)
        expected = min(PAGE, f.in_progress_runs) if route.role == "by_status" else PAGE
        if len(items) != expected:
            problems.append(f"{len(items)} items, expected {expected}")
        if route.role == "by_feedstock" and any(
            i["feedstock_id"] != f.heavy_feedstock for i in items
        ):
            problems.append("items of another feedstock")
        if route.role == "by_status" and any(i["status"] != "in_progress" for i in items):
            problems.append("items of another status")
        if route.role == "keyset_deep":
            offset_page = client.get(f"/recipe_runs/?limit={PAGE}&offset={f.deep_offset}").json()
            if [i["id"] for i in items] != [i["id"] for i in items_of(offset_page)]:
                problems.append("the keyset page differs from the OFFSET page at the same depth")
    elif route.role == "run_by_id":
        missing = {"bakery", "feedstock"} - set(body)
        if missing:
            problems.append(f"no nested {sorted(missing)}")
    elif route.role.startswith("feedstock_"):
        runs = body.get("recipe_runs")
        if not isinstance(runs, list) or not runs:
            problems.append("no nested recipe_runs")
        elif len(runs) > PAGE:
            problems.append(f"{len(runs)} nested recipe_runs: unbounded")
    elif route.role.startswith("datasets_"):
        items_of(body)
    elif route.role == "stats_recipe_runs" and body.get("count") != f.total_runs:
        problems.append(f"count {body.get('count')} != {f.total_runs}")
    return problems


def verify_routes(client: httpx.Client, routes: list[Route], f: Fixtures) -> list[str]:
    """One request per route before the load: status 200 and the right content."""
    problems = []
    for route in routes:
        response = client.get(route.paths[0])
        if response.status_code != 200:
            problems.append(f"{route.paths[0]} -> {response.status_code} {response.text[:200]}")
            continue
        try:
            found = _check(route, response.json(), f, client)
        except (ValueError, KeyError, TypeError) as exc:
            found = [f"unexpected shape: {exc!r}"]
        problems += [f"{route.paths[0]}: {p}" for p in found]
    return problems
