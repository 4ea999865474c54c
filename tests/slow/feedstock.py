"""A tiny real feedstock for real bakes: two NetCDF files, a Beam recipe, pinned requirements.

Shared by the slow test and the bake benchmark (`python -m tests.slow.local_bake_bench`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pangeo_forge_orchestrator.adapters.bakeries.base import runner_command
from pangeo_forge_orchestrator.adapters.bakeries.local import LocalBakery
from pangeo_forge_orchestrator.adapters.runner import RunnerResult
from pangeo_forge_orchestrator.core.bakeries import default_registry
from pangeo_forge_orchestrator.core.bakes import BakeRequest, BakeStatus, plan_bake
from pangeo_forge_orchestrator.core.vocabulary import DatasetType
from pangeo_forge_orchestrator.sandbox.tiny_recipe import (
    RECIPE_ID,
    STORE_NAME,
    tiny_recipe,
    write_inputs,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = REPO_ROOT / ".tools" / "runner" / "bin" / "pangeo-forge-runner"
ENV_CACHE = REPO_ROOT / ".tools" / "runner-envs"
RUNNER_MISSING = (
    f"pangeo-forge-runner is not installed at {RUNNER} "
    "(`make .tools/runner/bin/pangeo-forge-runner`, which `make test` does first)"
)
BAKE_TIMEOUT_SECONDS = 1200

READ_STORE = """\
import json, sys
import xarray as xr
ds = xr.open_zarr(sys.argv[1])
print(json.dumps({
    "sizes": dict(ds.sizes),
    "time": [str(t)[:10] for t in ds.time.values],
    "mean_by_day": [float(v) for v in ds.temperature.mean(["lat", "lon"]).values],
}))
"""


@dataclass(frozen=True)
class Feedstock:
    repo: Path
    sha: str


def make_feedstock(root: Path) -> Feedstock:
    """Write the inputs and a feedstock repository under root, committed with git."""
    inputs = root / "inputs"
    write_inputs(inputs)
    repo = root / "tiny-feedstock"
    (repo / "feedstock").mkdir(parents=True)
    for path, data in tiny_recipe(inputs).files("feedstock").items():
        (repo / path).write_bytes(data)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "--quiet"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "tiny feedstock"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return Feedstock(repo=repo, sha=sha.stdout.strip())


def local_bakery(data_dir: Path, *, env_cache: Path | None) -> LocalBakery:
    """The default local bakery, its runner the one of .tools/runner, cached or not."""
    registry = default_registry(data_dir=data_dir)
    config = registry["local"]
    return LocalBakery(
        config,
        runner_command=runner_command(str(RUNNER), env_cache_dir=env_cache),
        environ=dict(os.environ),
        redact=registry.redact,
    )


@dataclass(frozen=True)
class Bake:
    request: BakeRequest
    status: BakeStatus
    result: RunnerResult
    env_cache: Path | None

    @property
    def setup_seconds(self) -> float:
        return self.result.setup_seconds or 0.0

    @property
    def pipeline_seconds(self) -> float:
        return self.result.elapsed - self.setup_seconds

    @property
    def store(self) -> Path:
        # pangeo-forge-recipes 0.10 writes the store named by the recipe under the target root.
        return Path(self.request.target_root) / STORE_NAME

    @property
    def cached_environment(self) -> Path | None:
        found = re.search(r"Using the cached environment ([0-9a-f]{32})", self.result.output)
        if found is None or self.env_cache is None:
            return None
        return self.env_cache / found.group(1)


async def bake_feedstock(
    feedstock: Feedstock, *, data_dir: Path, env_cache: Path | None, run_id: int = 1
) -> Bake:
    bakery = local_bakery(data_dir, env_cache=env_cache)
    request = plan_bake(
        bakery.config,
        app_name="pangeo-forge",
        recipe_run_id=run_id,
        repo_url=str(feedstock.repo),
        ref=feedstock.sha,
        recipe_id=RECIPE_ID,
        is_test=True,
        feedstock_spec="test/tiny-feedstock",
        dataset_type=DatasetType.ZARR,
    )
    handle = await bakery.submit(request)
    status = await asyncio.wait_for(bakery.wait(handle), BAKE_TIMEOUT_SECONDS)
    result = bakery.result(handle)
    assert result is not None
    return Bake(request=request, status=status, result=result, env_cache=env_cache)


def read_store(python: Path, store: Path) -> dict[str, object]:
    """Open the Zarr store with xarray, in a Python that has it (the feedstock's environment)."""
    out = subprocess.run(
        [str(python), "-c", READ_STORE, str(store)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(out.stdout)
