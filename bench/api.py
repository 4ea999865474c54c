"""REST API on 1,000,000 recipe runs (issue 2): load, serve, measure, check, report.

`make bench` (or `uv run python -m bench.api`) does it all: a fresh database on an embedded
Postgres, 10,000 feedstocks and 1,000,000 recipe runs loaded in SQL, `pfo serve --no-worker`
pinned to CPU 0, wrk pinned to CPU 1 at 8 connections, every route for a warm-up then a measured
window, the OFFSET and count(*) variants timed in the same run, targets checked line by line,
a markdown table printed and the raw numbers written to bench/results/api-<timestamp>.json.
Postgres is left unpinned: on two cores it has to share one of them with someone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import data, loadgen, machine, measure, report
from bench.routes import Fixtures, discover_fixtures, routes_for, verify_routes
from bench.server import free_port, start_server, stop_server, wait_ready
from bench.sql import ratios, sql_variants
from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import make_engine

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO_ROOT / "pangeo_forge_orchestrator"
DATABASE = "pfo_bench"
SERVER_CPU = 0


def prepare_database(
    pg: EmbeddedPostgres, args: argparse.Namespace
) -> tuple[str, dict[str, Any] | None]:
    """A fresh database at head with the bench data; reuse a loaded one with --reuse."""
    admin = make_engine(pg.url(), isolation_level="AUTOCOMMIT")
    url = pg.url(DATABASE)
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}
            ).first()
            if exists and args.reuse:
                engine = make_engine(url)
                with engine.connect() as db:
                    runs = db.execute(sa.text("SELECT count(*) FROM recipe_run")).scalar_one()
                engine.dispose()
                if runs == args.runs:
                    print(f"reusing database {DATABASE} with {runs:,} recipe runs", flush=True)
                    return url, None
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    finally:
        admin.dispose()
    started = time.perf_counter()
    migrate.upgrade(url)
    migrated = time.perf_counter() - started
    engine = make_engine(url)
    try:
        print(
            f"loading {args.feedstocks:,} feedstocks and {args.runs:,} recipe runs ...", flush=True
        )
        loaded = data.load(engine, feedstocks=args.feedstocks, recipe_runs=args.runs)
        counters = data.check_counters(engine)
    finally:
        engine.dispose()
    seconds = {"migrate": migrated, **loaded.seconds}
    print(
        f"loaded in {sum(seconds.values()):.1f} s "
        + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
        + f"; recipe_run is {loaded.sizes_mb['recipe_run']:.0f} MB with its indexes",
        flush=True,
    )
    wrong = {name: pair for name, pair in counters.items() if pair[0] != pair[1]}
    if wrong:
        raise RuntimeError(f"stat counters disagree with count(*) after the load: {wrong}")
    return url, {
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "total_seconds": round(sum(seconds.values()), 1),
        "sizes_mb": {k: round(v, 1) for k, v in loaded.sizes_mb.items()},
        "counters": {name: pair[0] for name, pair in counters.items()},
    }


def run_http(
    url: str, pgdata: Path, workdir: Path, args: argparse.Namespace
) -> tuple[Fixtures, list[dict[str, Any]], list[str]]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    server = start_server(url, port=port, log_path=log_path, cpu=SERVER_CPU if args.pin else None)
    engine = make_engine(url, pool_size=1)
    try:
        wait_ready(base_url, server, log_path)
        with httpx.Client(base_url=base_url, timeout=30) as client:
            fixtures = discover_fixtures(client, engine, random.Random(42))
            wanted = args.only.split("|")
            routes = [r for r in routes_for(fixtures) if any(w in r.name for w in wanted)]
            problems = verify_routes(client, routes, fixtures)
            for problem in problems:
                print(f"  FAIL before load: {problem}", flush=True)
            measure.flush_backend_stats(client)
            print(f"measuring {len(routes)} routes", flush=True)
            pids = {"server": server.pid, "postmaster": machine.postmaster_pid(pgdata)}
            results = [
                measure.measure_quietly(
                    route,
                    args=args,
                    base_url=base_url,
                    client=client,
                    engine=engine,
                    pids=pids,
                    workdir=workdir,
                )
                for route in routes
            ]
    finally:
        engine.dispose()
        stop_server(server)
    return fixtures, results, problems


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000, help="recipe runs to load")
    parser.add_argument("--feedstocks", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per route")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per route")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sql-repeats", type=int, default=20)
    parser.add_argument(
        "--only",
        default="",
        help="measure only routes whose name contains this (alternatives: a|b)",
    )
    parser.add_argument(
        "--pgdata", type=Path, help="embedded Postgres folder (default: a temp one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder and database")
    parser.add_argument("--reuse", action="store_true", help="reuse a loaded database (--pgdata)")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not use taskset")
    parser.add_argument(
        "--wait-quiet", type=float, default=0, help="wait up to N s for other load to settle"
    )
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.pin = args.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    return args


def _exit_on_signal(signum: int, frame: object) -> None:
    # SystemExit unwinds the cleanups: the server, wrk and the embedded Postgres stop.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_on_signal)
    if loadgen.wrk_path() is None:
        print(loadgen.WRK_INSTALL_HINT, file=sys.stderr)
    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="pfo-bench-"))
    pgdata = args.pgdata or workdir / "pgdata"
    with ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        pg = EmbeddedPostgres(pgdata)
        cleanup.callback(pg.release)
        if args.pgdata and not args.keep:
            cleanup.callback(drop_database, pg)
        url, loaded = prepare_database(pg, args)
        fixtures, routes, problems = run_http(url, pg.pgdata, workdir, args)
        engine = make_engine(url, pool_size=1)
        cleanup.callback(engine.dispose)
        print("timing the OFFSET and count(*) variants in SQL ...", flush=True)
        sql = sql_variants(engine, fixtures, repeats=args.sql_repeats)
        with engine.connect() as conn:
            postgres_version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            pg_settings = {
                name: conn.execute(sa.text(f"SHOW {name}")).scalar_one()
                for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit")
            }
        finish(
            args=args,
            started_at=started_at,
            loaded=loaded,
            fixtures=fixtures,
            routes=routes,
            problems=problems,
            sql=sql,
            environment={"postgres": postgres_version, "postgres_settings": pg_settings},
        )
        if args.keep:
            print(f"kept {workdir} (pgdata {pg.pgdata}, database {DATABASE})")


def drop_database(pg: EmbeddedPostgres) -> None:
    admin = make_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


def finish(
    *,
    args: argparse.Namespace,
    started_at: datetime,
    loaded: dict[str, Any] | None,
    fixtures: Fixtures,
    routes: list[dict[str, Any]],
    problems: list[str],
    sql: dict[str, Any],
    environment: dict[str, Any],
) -> None:
    """Check the targets, print the tables, write the JSON."""
    by_role = {r["role"]: r for r in routes}
    static_hits = report.static_count_hits(PACKAGE_DIR)
    answered = "; ".join(problems) or "status, shape, keyset == OFFSET page, exact stats"
    checks = [report.Check("routes answer as expected before load", not problems, answered)]
    checks += report.route_checks(routes)
    for first, deep in (("first_page", "keyset_deep"), ("first_page_cold", "keyset_deep_cold")):
        if {first, deep} <= by_role.keys():
            checks.append(report.deep_page_check(by_role[first], by_role[deep]))
    checks += report.count_checks(
        routes=routes,
        static_hits=static_hits,
        count_p50_ms=sql["count(*) FROM recipe_run"]["p50_ms"],
    )
    computed = ratios(by_role, sql)
    markdown = "\n\n".join(
        [report.routes_table(routes), report.sql_table(sql), report.ratios_table(computed)]
    )
    print("\n" + markdown + "\n")
    for hit in static_hits:
        print(f"info  count-looking code on a request path: {hit}")
    for check in checks:
        print(check.line())
    results = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": {**machine.describe(), **environment, "wrk": loadgen.wrk_version()},
        "code": machine.code_version(REPO_ROOT),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "load": loaded,
        "fixtures": fixtures.as_dict(),
        "routes": routes,
        "sql": sql,
        "ratios": computed,
        "static_count_hits": static_hits,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
        "markdown": markdown,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"api-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nraw results: {out}")


if __name__ == "__main__":
    main()
