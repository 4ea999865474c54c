"""Soak under kills (issue 3): 10,000 deliveries plus 10% duplicates while web and worker die.

`uv run --frozen python -m bench.soak [--deliveries N] [--kills K] [--seed S]`:
- a fresh database (embedded Postgres in a temporary folder, or DATABASE_URL / --database-url);
- `pfo serve --no-worker` (web) and `pfo worker` as children, each in its own process group,
  logging to files; leases of PFO_JOB_LEASE_SECONDS=2 so a killed worker's jobs come back soon;
- signed deliveries from concurrent senders, retried with the same GUID and body until a 202
  acknowledges them (bench/soak_traffic.py), with duplicates next to the original, a little
  later, and after the drain;
- SIGKILLs at random moments, half on each process, each followed by a random pause and a
  restart (bench/soak_chaos.py);
- then the queue is drained and SQL checks that nothing was lost, duplicated or left
  unfinished (bench/soak_checks.py). Exit status 0 only if every check holds.

The stage (database, children) is bench/soak_setup.py. Figures go to
bench/results/soak-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import machine
from bench.server import free_port
from bench.soak_chaos import Chaos, plan_kills, strikes_as_dicts
from bench.soak_checks import (
    Scope,
    gather,
    guid_prefix,
    jobs_held_by,
    summary,
    verdict,
    wait_drained,
)
from bench.soak_plan import TrafficPlan, plan_traffic
from bench.soak_setup import SECRET, Workspace, fresh_database, make_children
from bench.soak_traffic import Senders
from pangeo_forge_orchestrator.db.engine import make_engine

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"


@dataclass(frozen=True, kw_only=True)
class SoakConfig:
    deliveries: int = 10_000
    duplicate_share: float = 0.10
    kills: int = 24
    seed: int = 1
    senders: int = 8
    lease_seconds: float = 2.0
    request_timeout_s: float = 10.0
    drain_timeout_s: float = 300.0
    sending_timeout_s: float = 3600.0
    database_url: str | None = None
    results_dir: Path | None = RESULTS_DIR
    keep: bool = False


async def soak(config: SoakConfig, workspace: Workspace, url: str) -> dict[str, Any]:
    rng = random.Random(config.seed)
    # GUIDs unique to this run, whatever the seed: a shared database may hold earlier runs.
    run = uuid.uuid4().hex[:8]
    plan: TrafficPlan = plan_traffic(
        run=run,
        count=config.deliveries,
        duplicate_share=config.duplicate_share,
        secret=SECRET,
        rng=rng,
    )
    kills = plan_kills(kills=config.kills, deliveries=config.deliveries, rng=rng)
    engine = workspace.engine = make_engine(url)
    with engine.connect() as conn:
        since = conn.execute(sa.text("SELECT now()")).scalar_one()
    port = free_port()
    make_children(workspace, url, port=port, lease_seconds=config.lease_seconds)
    children = {child.name: child for child in workspace.children}
    for child in workspace.children:
        child.start()
    await asyncio.gather(*(child.wait_ready() for child in workspace.children))

    senders = Senders(
        f"http://127.0.0.1:{port}",
        senders=config.senders,
        timeout_s=config.request_timeout_s,
        rng=random.Random(rng.random()),
    )

    async def held(pid: int) -> int:
        return await asyncio.to_thread(jobs_held_by, engine, pid)

    chaos = Chaos(
        children=children,
        plan=kills,
        acknowledged=lambda: len(senders.ledger.acknowledged),
        jobs_held_by=held,
        requests_in_flight=lambda: senders.ledger.in_flight,
        rng=random.Random(rng.random()),
    )
    busy_before, started = machine.busy_seconds(), time.monotonic()
    prefix = guid_prefix(run)
    guard = asyncio.create_task(chaos.guard())
    try:
        print(f"sending {len(plan.main):,} sends, {config.kills} kills planned", flush=True)
        async with asyncio.timeout(config.sending_timeout_s):
            sending_s = await send_while_striking(senders, chaos, plan, started=started)
        await asyncio.gather(*(child.wait_ready() for child in workspace.children))
        print(f"all acknowledged in {sending_s:.1f} s; draining", flush=True)
        drain = await wait_drained(engine, prefix=prefix, timeout_s=config.drain_timeout_s)
        print(f"re-sending {len(plan.after_drain)} duplicates after the drain", flush=True)
        await senders.send_all(plan.after_drain)
        drain_after = await wait_drained(engine, prefix=prefix, timeout_s=config.drain_timeout_s)
    finally:
        guard.cancel()
    total_s = time.monotonic() - started
    busy = machine.busy_seconds() - busy_before
    scope = Scope(prefix=prefix, since=since, installation_account=plan.installation_account)
    figures = await asyncio.to_thread(gather, engine, scope=scope, ledger=senders.ledger, plan=plan)
    kill_counts = {name: child.kills for name, child in children.items()}
    planned = {name: sum(1 for k in kills if k.target == name) for name in children}
    crashes = sum(len(child.unexpected_exits) for child in workspace.children)
    checks = verdict(figures, kills=kill_counts, planned=planned, crashes=crashes)
    ledger = senders.ledger
    strikes = strikes_as_dicts(chaos.strikes)
    return {
        "run": run,
        "passed": all(check.passed for check in checks),
        "checks": [asdict(check) for check in checks],
        "figures": figures,
        "kills": kill_counts | {"total": sum(kill_counts.values())},
        "worker_kills_with_jobs_held": sum(1 for s in strikes if s["jobs_held"]),
        "jobs_held_at_worker_kills": sum(s["jobs_held"] or 0 for s in strikes),
        "unexpected_exits": [e for c in workspace.children for e in c.unexpected_exits],
        "strikes": strikes,
        "sends": {
            "planned": len(plan.main) + len(plan.later) + len(plan.after_drain),
            "acknowledged_by_kind": dict(ledger.sends_acknowledged),
            "attempts": ledger.attempts,
            "failed_attempts_by_reason": dict(ledger.failures),
            "sends_needing_a_retry": ledger.retried_sends,
            "answered_duplicate_true": ledger.duplicate_answers,
        },
        "seconds": {
            "sending": round(sending_s, 1),
            "drain_after_sending": drain["seconds"],
            "total": round(total_s, 1),
        },
        "drain": drain,
        "drain_after_late_duplicates": drain_after,
        "acknowledged_per_s": round(len(ledger.acknowledged) / sending_s, 1),
        "machine_busy_percent": round(100 * busy / total_s / (os.cpu_count() or 1), 1),
        "logs": str(workspace.root / "logs"),
    }


async def send_while_striking(
    senders: Senders, chaos: Chaos, plan: TrafficPlan, *, started: float
) -> float:
    """Send the main traffic while the kills fall; the seconds until the last send's 202."""

    async def send() -> float:
        await senders.send_all(plan.main, later=plan.later)
        return time.monotonic() - started

    sending = asyncio.create_task(send())
    striking = asyncio.create_task(chaos.run())
    # A restart that fails must stop the senders, who would otherwise retry forever (and a
    # sender that fails, the kills, which wait for progress).
    await asyncio.wait({sending, striking}, return_when=asyncio.FIRST_EXCEPTION)
    for task, other in ((striking, sending), (sending, striking)):
        if task.done() and task.exception() is not None:
            other.cancel()
            await task
    await striking
    return await sending


def run(config: SoakConfig) -> dict[str, Any]:
    """Run the soak; the results, with `passed`. Children and Postgres are gone on return."""
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="pfo-soak-")))
    results: dict[str, Any] = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "machine": machine.describe(),
        "code": machine.code_version(REPO_ROOT),
    }
    if config.database_url:
        results["config"]["database_url"] = "given"  # may hold a password
    passed = False
    try:
        url = fresh_database(workspace, config.database_url)
        results |= asyncio.run(soak(config, workspace, url))
        passed = results["passed"]
    finally:
        workspace.close()
        if passed and not config.keep:
            shutil.rmtree(workspace.root, ignore_errors=True)
        else:
            print(f"work folder kept (logs, database): {workspace.root}", file=sys.stderr)
    if config.results_dir is not None:
        config.results_dir.mkdir(parents=True, exist_ok=True)
        path = config.results_dir / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        path.write_text(json.dumps(results, indent=2, default=str))
        results["results_file"] = str(path)
    return results


def parse_args(argv: list[str] | None) -> SoakConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=24, help="SIGKILLs in all, half each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--senders", type=int, default=8, help="concurrent connections")
    parser.add_argument("--duplicates", type=float, default=0.10, help="share re-sent")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    return SoakConfig(
        deliveries=args.deliveries,
        kills=args.kills,
        seed=args.seed,
        senders=args.senders,
        duplicate_share=args.duplicates,
        database_url=args.database_url,
        keep=args.keep,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through run(), which stops the children

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    results = run(config)
    print(summary(results))
    if "results_file" in results:
        print(f"raw figures: {results['results_file']}")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
