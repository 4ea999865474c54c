"""The queries the API must avoid (OFFSET, count(*)), timed in SQL beside the ones it runs."""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

import sqlalchemy as sa

from bench import loadgen
from bench.routes import Fixtures


def time_sql(engine: sa.Engine, sql: str, *, repeats: int) -> dict[str, Any]:
    """p50/p99 of one statement run `repeats` times after two unmeasured runs."""
    samples = []
    with closing(engine.raw_connection()) as conn:
        cursor = conn.cursor()
        for i in range(repeats + 2):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            if i >= 2:
                samples.append((time.perf_counter() - started) * 1000)
        conn.rollback()
    samples.sort()
    return {
        "sql": sql,
        "runs": repeats,
        "p50_ms": loadgen.percentile(samples, 50),
        "p99_ms": loadgen.percentile(samples, 99),
        "samples_ms": [round(s, 3) for s in samples],
    }


def sql_variants(engine: sa.Engine, fixtures: Fixtures, *, repeats: int) -> dict[str, Any]:
    """The queries the routes avoid (OFFSET, count(*)) beside the ones they should run."""
    order, cmp = ("DESC", "<") if fixtures.descending else ("ASC", ">")
    dataset = "recipe_run_is_dataset(status, conclusion, dataset_public_url)"
    queries = {
        "first page: ORDER BY id LIMIT 100": (
            f"SELECT * FROM recipe_run ORDER BY id {order} LIMIT 100"
        ),
        "keyset 90%: WHERE id > X ORDER BY id LIMIT 100": (
            f"SELECT * FROM recipe_run WHERE id {cmp} {fixtures.deep_after_id} "
            f"ORDER BY id {order} LIMIT 100"
        ),
        "OFFSET 90%: ORDER BY id LIMIT 100 OFFSET n": (
            f"SELECT * FROM recipe_run ORDER BY id {order} LIMIT 100 OFFSET {fixtures.deep_offset}"
        ),
        "counter: stat_counter 'recipe_runs'": (
            "SELECT value FROM stat_counter WHERE name = 'recipe_runs'"
        ),
        "count(*) FROM recipe_run": "SELECT count(*) FROM recipe_run",
        "counter: stat_counter 'datasets'": (
            "SELECT value FROM stat_counter WHERE name = 'datasets'"
        ),
        "count(*) datasets (WHERE is_dataset)": f"SELECT count(*) FROM recipe_run WHERE {dataset}",
        "count(*) production datasets": (
            f"SELECT count(*) FROM recipe_run WHERE {dataset} AND NOT is_test"
        ),
    }
    timings = {name: time_sql(engine, sql, repeats=repeats) for name, sql in queries.items()}
    with engine.connect() as conn:
        for name in ("count(*) FROM recipe_run", "OFFSET 90%: ORDER BY id LIMIT 100 OFFSET n"):
            plan = conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS) " + queries[name]))
            timings[name]["plan"] = [row[0] for row in plan]
    return timings


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if numerator and denominator else None


def ratios(routes: dict[str, dict[str, Any]], sql: dict[str, Any]) -> dict[str, float | None]:
    """How much the avoided query costs next to the one used (None: a side had no result)."""

    def p50(role: str) -> float:
        return float(routes[role]["load"]["latency_ms"]["p50"]) if role in routes else 0.0

    def rps(role: str) -> float:
        return float(routes[role]["load"]["requests_per_s"]) if role in routes else 0.0

    def sql_p50(name: str) -> float:
        return float(sql[name]["p50_ms"])

    return {
        "HTTP, 1 connection: OFFSET vs keyset page at 90% (p50)": _ratio(
            p50("offset_deep"), p50("keyset_deep_single")
        ),
        "HTTP, 1 connection: keyset vs OFFSET page at 90% (req/s)": _ratio(
            rps("keyset_deep_single"), rps("offset_deep")
        ),
        "SQL: OFFSET vs keyset at 90% (p50)": _ratio(
            sql_p50("OFFSET 90%: ORDER BY id LIMIT 100 OFFSET n"),
            sql_p50("keyset 90%: WHERE id > X ORDER BY id LIMIT 100"),
        ),
        "SQL: count(*) recipe_run vs its counter (p50)": _ratio(
            sql_p50("count(*) FROM recipe_run"), sql_p50("counter: stat_counter 'recipe_runs'")
        ),
        "SQL: count(*) datasets vs its counter (p50)": _ratio(
            sql_p50("count(*) datasets (WHERE is_dataset)"),
            sql_p50("counter: stat_counter 'datasets'"),
        ),
        "count(*) alone in SQL vs the whole GET /stats/recipe_runs over HTTP (p50)": _ratio(
            sql_p50("count(*) FROM recipe_run"), p50("stats_recipe_runs")
        ),
    }
