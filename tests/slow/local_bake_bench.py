"""Time a local test bake, split into runner set-up and pipeline, without and with the cache.

    uv run --frozen python -m tests.slow.local_bake_bench [--repeat N]

Modes: `runner` (pangeo-forge-runner's own per-bake virtualenv), `cache-cold` (our launcher,
empty cache: builds the environment), `cache-warm` (our launcher, environment ready).
Set-up is the time to the runner's first `setup` line (fetch, environment, imports, storage);
pipeline is the rest, to the process's exit. The numbers go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path

from pangeo_forge_orchestrator.core.bakes import BakeState
from tests.slow.feedstock import RUNNER, RUNNER_MISSING, Bake, bake_feedstock, make_feedstock


async def bake_once(root: Path, *, env_cache: Path | None, run_id: int) -> Bake:
    feedstock = make_feedstock(root / f"run-{run_id}")
    bake = await bake_feedstock(
        feedstock, data_dir=root / f"run-{run_id}" / "pfo", env_cache=env_cache, run_id=run_id
    )
    if bake.status.state is not BakeState.SUCCEEDED:
        raise SystemExit(f"bake failed: {bake.status.message}\n{bake.status.failure_detail}")
    return bake


def row(mode: str, bakes: list[Bake]) -> str:
    def median(values: list[float]) -> str:
        return f"{statistics.median(values):.1f}"

    return (
        f"| {mode} | {len(bakes)} | {median([b.setup_seconds for b in bakes])} "
        f"| {median([b.pipeline_seconds for b in bakes])} "
        f"| {median([b.result.elapsed for b in bakes])} |"
    )


async def main(repeat: int) -> None:
    if not RUNNER.exists():
        raise SystemExit(RUNNER_MISSING)
    with tempfile.TemporaryDirectory(prefix="pfo-bake-bench-") as tmp:
        root = Path(tmp)
        cache = root / "envs"
        results: dict[str, list[Bake]] = {"runner": [], "cache-cold": [], "cache-warm": []}
        run_id = 0
        for _ in range(repeat):
            run_id += 1
            results["runner"].append(await bake_once(root, env_cache=None, run_id=run_id))
        for _ in range(repeat):
            run_id += 1
            shutil.rmtree(cache, ignore_errors=True)  # cold: nothing cached
            results["cache-cold"].append(await bake_once(root, env_cache=cache, run_id=run_id))
        for _ in range(repeat):
            run_id += 1
            results["cache-warm"].append(await bake_once(root, env_cache=cache, run_id=run_id))
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print("| mode | bakes | set-up s (median) | pipeline s (median) | total s (median) |")
    print("|---|---|---|---|---|")
    for mode, bakes in results.items():
        print(row(mode, bakes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    asyncio.run(main(parser.parse_args().repeat))
