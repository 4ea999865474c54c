"""A real bake: pangeo-forge-runner 0.10.2, Apache Beam's DirectRunner, a real Zarr store."""

from __future__ import annotations

from pathlib import Path

import pytest

from pangeo_forge_orchestrator.core.bakes import BakeState
from pangeo_forge_orchestrator.sandbox.tiny_recipe import DAYS, LAT, LON
from tests.slow.feedstock import (
    BAKE_TIMEOUT_SECONDS,
    ENV_CACHE,
    RUNNER,
    RUNNER_MISSING,
    bake_feedstock,
    make_feedstock,
    read_store,
)

pytestmark = [pytest.mark.slow, pytest.mark.anyio, pytest.mark.timeout(BAKE_TIMEOUT_SECONDS + 60)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_tiny_feedstock_bakes_into_a_zarr_store(tmp_path: Path):
    if not RUNNER.exists():
        pytest.skip(RUNNER_MISSING)
    feedstock = make_feedstock(tmp_path)

    # Environments are cached under .tools/, so only the first run on a machine builds one.
    bake = await bake_feedstock(feedstock, data_dir=tmp_path / "pfo", env_cache=ENV_CACHE)

    assert bake.status.state is BakeState.SUCCEEDED, bake.status.failure_detail
    print(  # the benchmark's numbers come from tests/slow/local_bake_bench.py
        f"\nbake: {bake.result.elapsed:.1f} s = set-up {bake.setup_seconds:.1f} s"
        f" + pipeline {bake.pipeline_seconds:.1f} s"
    )
    assert bake.request.public_url == Path(bake.request.target_root).as_uri()
    assert bake.store.is_dir()
    # The run's dataset is the store the recipe named, not the folder it was written in.
    assert bake.status.dataset_url == f"{bake.request.public_url}/{bake.store.name}"
    python = bake.cached_environment
    assert python is not None, "the bake did not go through the environment cache"
    assert read_store(python / "bin" / "python", bake.store) == {
        "sizes": {"time": len(DAYS), "lat": LAT, "lon": LON},
        "time": list(DAYS),
        "mean_by_day": [0.0, 1.0],
    }
