"""One route under load: warm-up, measured window, CPU shares, rows read per request."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench import loadgen, machine, report
from bench.routes import Route

LOADGEN_CPU = 1
# Other sessions share the machine's two cores: with --wait-quiet, a window in which they used
# more than this share of a core is measured again, and the quietest attempt is kept.
NOISY_OTHER_PERCENT = 25.0
MAX_ATTEMPTS = 3
QUIET_OTHER_PERCENT = 20.0
# Enough sequential requests to pass through every pooled connection (SQLAlchemy's pool is FIFO),
# so each backend goes idle once more than a second after its last stats flush and flushes.
STATS_NUDGES = 40

ROWS_READ_SQL = """
SELECT coalesce(sum(t.seq_tup_read), 0)
     + coalesce((SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i
                 WHERE i.relname IN ('recipe_run', 'feedstock', 'bakery')), 0)
FROM pg_stat_user_tables t WHERE t.relname IN ('recipe_run', 'feedstock', 'bakery')
"""


def rows_read(engine: sa.Engine) -> int:
    """Rows of the big tables read so far, by sequential and index scans (all backends)."""
    with engine.connect() as conn:
        # Publish this connection's own pending statistics first (between two transactions).
        conn.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        conn.commit()
        return int(conn.execute(sa.text(ROWS_READ_SQL)).scalar_one())


def flush_backend_stats(client: httpx.Client) -> None:
    """Make the server's backends publish their table statistics (they batch for 1-10 s)."""
    time.sleep(1.1)
    for _ in range(STATS_NUDGES):
        client.get("/ready")
    # The probe connection (reads made on the event loop) flushes too: it serves /stats, which
    # reads none of the counted tables, so the rows it read for an earlier route are not
    # counted against the next one.
    client.get("/stats/bakeries")
    time.sleep(0.2)


def measure_route(
    route: Route,
    *,
    args: argparse.Namespace,
    base_url: str,
    client: httpx.Client,
    engine: sa.Engine,
    pids: dict[str, int],
    workdir: Path,
) -> dict[str, Any]:
    cpu = LOADGEN_CPU if args.pin else None
    connections = route.connections or args.connections
    rows_before = rows_read(engine)
    warmup = loadgen.run(
        base_url,
        route.paths,
        duration_s=args.warmup,
        connections=connections,
        cpu=cpu,
        workdir=workdir,
        cold=route.cold,
    )
    before = machine.snapshot(
        wall=time.monotonic(), server_pid=pids["server"], postmaster_pid=pids["postmaster"]
    )
    load = loadgen.run(
        base_url,
        route.paths,
        duration_s=args.duration,
        connections=connections,
        cpu=cpu,
        workdir=workdir,
        cold=route.cold,
    )
    after = machine.snapshot(
        wall=time.monotonic(), server_pid=pids["server"], postmaster_pid=pids["postmaster"]
    )
    flush_backend_stats(client)
    rows = rows_read(engine) - rows_before
    sent = warmup.requests + load.requests
    result: dict[str, Any] = {
        "name": route.name,
        "role": route.role,
        "target": route.target,
        "paths_sample": route.paths[:3],
        "paths_count": len(route.paths),
        "connections": connections,
        "load": load.as_dict(),
        "warmup_requests": warmup.requests,
        "errors": load.error_count + warmup.error_count,
        "cpu_percent": machine.cpu_shares(before, after),
        "rows_read_per_request": rows / sent if sent else None,
    }
    result["passed"] = (
        load.requests_per_s >= report.MIN_REQUESTS_PER_S
        and load.latency_ms["p99"] <= report.MAX_P99_MS
        and result["errors"] == 0
    )
    result["server_cpu_ms_per_request"] = report.server_ms_per_request(result)
    lat = load.latency_ms
    print(
        f"  {route.name}: {load.requests_per_s:,.0f} req/s, p50 {lat['p50']:.2f} ms, "
        f"p99 {lat['p99']:.2f} ms, errors {result['errors']}, "
        f"rows/req {result['rows_read_per_request'] or 0:,.1f}, cpu {result['cpu_percent']}",
        flush=True,
    )
    return result


def wait_for_quiet(seconds: float) -> float:
    """Wait up to `seconds` for other load to fall under a fifth of a core; return that load."""
    deadline = time.monotonic() + seconds
    told = False
    while True:
        before, wall = machine.busy_seconds(), time.monotonic()
        time.sleep(2)
        other = 100 * (machine.busy_seconds() - before) / (time.monotonic() - wall)
        if other < QUIET_OTHER_PERCENT or time.monotonic() >= deadline:
            return other
        if not told:
            print(f"  others use {other:.0f}% of a core; waiting up to {seconds:.0f} s", flush=True)
            told = True


def measure_quietly(route: Route, *, args: argparse.Namespace, **context: Any) -> dict[str, Any]:
    """Measure `route`; with --wait-quiet, again when others used the CPU, keeping the quietest."""
    attempts = MAX_ATTEMPTS if args.wait_quiet else 1
    best: dict[str, Any] | None = None
    for attempt in range(1, attempts + 1):
        if args.wait_quiet:
            wait_for_quiet(args.wait_quiet)
        result = measure_route(route, args=args, **context)
        result["attempt"] = attempt
        other = result["cpu_percent"].get("other", 0.0)
        if best is None or other < best["cpu_percent"].get("other", 0.0):
            best = result
        if other <= NOISY_OTHER_PERCENT:
            break
        print(f"  others used {other:.0f}% of a core during that window", flush=True)
    assert best is not None
    return best
