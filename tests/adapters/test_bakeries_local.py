from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from pangeo_forge_orchestrator.adapters.bakeries.local import COULD_NOT_START, LocalBakery
from pangeo_forge_orchestrator.core.bakeries import (
    BAKERY_CLASSES,
    LOCAL_FILESYSTEM,
    BakeryConfig,
    BakeryRegistry,
    parse_bakeries,
)
from pangeo_forge_orchestrator.core.bakes import (
    BAKE_TIMED_OUT,
    PROCESS_LOST,
    BakeHandle,
    BakeRequest,
    BakeState,
    BakeStatus,
    plan_bake,
)
from pangeo_forge_orchestrator.core.runner_args import CHILD_ENV_ALLOWLIST
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, DatasetType
from tests.adapters.test_runner import gone
from tests.fake_runner import SERVICE_ENVIRON, FakeRunner, install_fake_runner

pytestmark = pytest.mark.anyio

SHA = "0123456789abcdef0123456789abcdef01234567"
TOKENS = {"PROD_TOKEN": "prod-token-value", "TEST_TOKEN": "test-token-value"}


@pytest.fixture
def fake_runner(tmp_path: Path) -> FakeRunner:
    return install_fake_runner(tmp_path)


def bakeries_document(tmp_path: Path, *, kind: str = "local", **overrides: Any) -> dict:
    def storage(name: str, token: str) -> dict:
        return {
            "runner_config": {
                "TargetStorage": {"fsspec_class": LOCAL_FILESYSTEM, "fsspec_args": {"token": token}}
            },
            "env": {"BAKERY_TOKEN": token},
            "target_root": f"{tmp_path}/{name}/{{subpath}}",
            "public_url": f"https://data.example/{name}/{{subpath}}",
        }

    entry = {
        "region": "local",
        "description": "this machine",
        "kind": kind,
        **storage("prod", "${PROD_TOKEN}"),
        "max_concurrent_runs": 1,
        "max_run_seconds": 30,
        "test": storage("test", "${TEST_TOKEN}"),
    } | overrides
    return {"bakeries": {"here": entry}}


def registry(tmp_path: Path, **overrides: Any) -> BakeryRegistry:
    return parse_bakeries(bakeries_document(tmp_path, **overrides), environ=TOKENS)


def request(config: BakeryConfig, recipe: str, *, run_id: int = 1, is_test: bool = True):
    return plan_bake(
        config,
        app_name="pangeo-forge",
        recipe_run_id=run_id,
        repo_url="https://github.com/pangeo-forge/gpcp-feedstock",
        ref=SHA,
        recipe_id=recipe,
        is_test=is_test,
        feedstock_spec="pangeo-forge/gpcp-feedstock",
        dataset_type=DatasetType.ZARR,
    )


def local_bakery(fake_runner: FakeRunner, tmp_path: Path, **overrides: Any) -> LocalBakery:
    reg = registry(tmp_path, **overrides)
    return LocalBakery(
        reg["here"],
        runner_command=[fake_runner.command],
        environ=fake_runner.environ | TOKENS,
        redact=reg.redact,
    )


async def bake(bakery: LocalBakery, request: BakeRequest) -> tuple[BakeHandle, BakeStatus]:
    handle = await bakery.submit(request)
    return handle, await asyncio.wait_for(bakery.wait(handle), 30)


async def test_a_test_run_is_pruned_and_gets_only_the_test_credentials(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path)
    req = request(bakery.config, "ok", run_id=7, is_test=True)

    handle, status = await bake(bakery, req)

    assert handle == BakeHandle(
        bakery="here", recipe_run_id=7, is_test=True, job_name="pfo-pangeo-forge-run-7"
    )
    assert status.state is BakeState.SUCCEEDED
    (call,) = fake_runner.calls()
    config_path = call["argv"][-1]
    assert call["argv"] == [
        "bake",
        "--repo=https://github.com/pangeo-forge/gpcp-feedstock",
        f"--ref={SHA}",
        "--json",
        "--prune",
        "--Bake.recipe_id=ok",
        "-f",
        config_path,
    ]
    target = f"{tmp_path}/test/pangeo-forge/test/pangeo-forge/gpcp-feedstock/recipe-run-7/ok.zarr"
    assert req.target_root == target
    assert call["config"] == {
        "Bake": {
            "bakery_class": BAKERY_CLASSES[BakeryKind.LOCAL],
            "job_name": "pfo-pangeo-forge-run-7",
        },
        "TargetStorage": {
            "fsspec_class": LOCAL_FILESYSTEM,
            "fsspec_args": {"token": "test-token-value"},
            "root_path": target,
        },
    }
    assert call["config_mode"] == "0o600"
    assert not Path(config_path).exists()
    assert call["env"]["BAKERY_TOKEN"] == "test-token-value"
    assert "prod-token-value" not in str(call)


async def test_a_production_run_is_not_pruned_and_gets_the_production_profile(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path)

    _, status = await bake(bakery, request(bakery.config, "ok", run_id=8, is_test=False))

    assert status.state is BakeState.SUCCEEDED
    (call,) = fake_runner.calls()
    assert call["argv"][:6] == [
        "bake",
        "--repo=https://github.com/pangeo-forge/gpcp-feedstock",
        f"--ref={SHA}",
        "--json",
        "--Bake.recipe_id=ok",
        "-f",
    ]
    assert "--prune" not in call["argv"]
    assert call["config"]["TargetStorage"]["root_path"] == (
        f"{tmp_path}/prod/pangeo-forge/pangeo-forge/gpcp-feedstock/ok.zarr"
    )
    assert call["env"]["BAKERY_TOKEN"] == "prod-token-value"
    assert "test-token-value" not in str(call)


async def test_the_service_environment_never_reaches_the_runner(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path)

    await bake(bakery, request(bakery.config, "ok"))

    (call,) = fake_runner.calls()
    allowed = {*CHILD_ENV_ALLOWLIST, "BAKERY_TOKEN", "PIP_INDEX_URL", "LC_CTYPE"}
    assert set(call["env"]) <= allowed
    for name in ("PFO_GITHUB_WEBHOOK_SECRET", "GOOGLE_APPLICATION_CREDENTIALS", "PYTHONPATH"):
        assert name not in call["env"]
    assert not [name for name in call["env"] if name.startswith(("AWS_", "PFO_"))]
    assert SERVICE_ENVIRON["PFO_GITHUB_APP_PRIVATE_KEY"] not in str(call)


async def test_runs_wait_for_a_slot_and_start_in_submission_order(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path, max_concurrent_runs=1)
    handles = [await bakery.submit(request(bakery.config, "slow", run_id=i)) for i in (1, 2, 3)]

    assert [(await bakery.status(h)).state for h in handles] == [
        BakeState.RUNNING,
        BakeState.QUEUED,
        BakeState.QUEUED,
    ]
    statuses = [await asyncio.wait_for(bakery.wait(h), 30) for h in handles]

    assert [s.state for s in statuses] == [BakeState.SUCCEEDED] * 3
    calls = fake_runner.calls()
    assert [c["config"]["Bake"]["job_name"] for c in calls] == [
        "pfo-pangeo-forge-run-1",
        "pfo-pangeo-forge-run-2",
        "pfo-pangeo-forge-run-3",
    ]
    starts = [c["started"] for c in calls]
    # Each bake sleeps 0.5 s after it starts: with one slot, none starts before the previous ended.
    assert all(later - earlier >= 0.5 for earlier, later in itertools.pairwise(starts))


async def test_the_cap_lets_that_many_bakes_run_at_once(fake_runner: FakeRunner, tmp_path: Path):
    bakery = local_bakery(fake_runner, tmp_path, max_concurrent_runs=2)
    handles = [await bakery.submit(request(bakery.config, "slow", run_id=i)) for i in (1, 2, 3)]

    assert [(await bakery.status(h)).state for h in handles] == [
        BakeState.RUNNING,
        BakeState.RUNNING,
        BakeState.QUEUED,
    ]
    for handle in handles:
        await asyncio.wait_for(bakery.wait(handle), 30)
    first, second, third = sorted(c["started"] for c in fake_runner.calls())
    # Overlap: the second started while the first still slept; the third waited for a slot.
    assert second - first < 0.5
    assert third - first >= 0.5


async def test_submitting_a_live_run_again_does_not_start_it_twice(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path)
    req = request(bakery.config, "slow")

    first = await bakery.submit(req)
    again = await bakery.submit(req)
    await asyncio.wait_for(bakery.wait(first), 30)

    assert again == first
    assert len(fake_runner.calls()) == 1


async def test_cancel_stops_a_running_bake_and_drops_a_waiting_one(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path, max_concurrent_runs=1)
    running = await bakery.submit(request(bakery.config, "hang", run_id=1))
    waiting = await bakery.submit(request(bakery.config, "ok", run_id=2))
    while not fake_runner.calls():
        await asyncio.sleep(0.05)

    await bakery.cancel(waiting)
    await bakery.cancel(running)

    assert (await bakery.status(waiting)).state is BakeState.CANCELLED
    assert (await bakery.status(running)).state is BakeState.CANCELLED
    (call,) = fake_runner.calls()  # the waiting run never started
    assert await gone(call["grandchild"])


async def test_a_bake_past_its_limit_is_stopped_as_timed_out(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path, max_run_seconds=1)

    _, status = await bake(bakery, request(bakery.config, "hang"))

    assert status.state is BakeState.TIMED_OUT
    assert status.message == BAKE_TIMED_OUT.format(seconds=1)
    assert await gone(fake_runner.calls()[0]["grandchild"])


async def test_a_crash_fails_the_bake_with_its_traceback(fake_runner: FakeRunner, tmp_path: Path):
    bakery = local_bakery(fake_runner, tmp_path)

    handle, status = await bake(bakery, request(bakery.config, "crash"))

    assert status.state is BakeState.FAILED
    assert status.failure_detail is not None
    assert status.failure_detail.rstrip().endswith("ValueError: boom")
    result = bakery.result(handle)
    assert result is not None
    assert result.returncode == 1


async def test_an_exit_without_a_status_line_fails_with_the_output(
    fake_runner: FakeRunner, tmp_path: Path
):
    bakery = local_bakery(fake_runner, tmp_path)

    _, status = await bake(bakery, request(bakery.config, "die"))

    assert status.state is BakeState.FAILED
    assert status.failure_detail is not None
    assert "Segmentation fault (core dumped)" in status.failure_detail


async def test_secrets_never_reach_the_kept_output(fake_runner: FakeRunner, tmp_path: Path):
    bakery = local_bakery(fake_runner, tmp_path)

    handle, _ = await bake(bakery, request(bakery.config, "leak"))

    result = bakery.result(handle)
    assert result is not None
    assert "test-token-value" not in result.output
    assert "the token is ***" in result.output
    assert "and in the env: ***" in result.output


async def test_the_completion_hook_hears_each_outcome_once(fake_runner: FakeRunner, tmp_path: Path):
    heard: list[tuple[BakeHandle, BakeStatus]] = []

    async def on_complete(handle: BakeHandle, status: BakeStatus) -> None:
        heard.append((handle, status))

    reg = registry(tmp_path)
    bakery = LocalBakery(
        reg["here"],
        runner_command=[fake_runner.command],
        environ=fake_runner.environ | TOKENS,
        redact=reg.redact,
        on_complete=on_complete,
    )
    handle, status = await bake(bakery, request(bakery.config, "ok"))

    assert heard == [(handle, status)]


async def test_a_missing_runner_fails_the_bake(tmp_path: Path):
    reg = registry(tmp_path)
    bakery = LocalBakery(
        reg["here"],
        runner_command=[str(tmp_path / "no-such-runner")],
        environ={"PATH": ""},
        redact=reg.redact,
    )

    _, status = await bake(bakery, request(bakery.config, "ok"))

    assert status.state is BakeState.FAILED
    assert status.message is not None
    assert status.message.startswith(COULD_NOT_START.split("{", 1)[0])


async def test_a_bake_this_process_never_saw_is_unknown(fake_runner: FakeRunner, tmp_path: Path):
    bakery = local_bakery(fake_runner, tmp_path)
    handle = BakeHandle(bakery="here", recipe_run_id=99, is_test=False, job_name="pfo-x-run-99")

    assert await bakery.status(handle) == BakeStatus(state=BakeState.UNKNOWN, message=PROCESS_LOST)


async def test_aclose_leaves_no_bake_behind(fake_runner: FakeRunner, tmp_path: Path):
    bakery = local_bakery(fake_runner, tmp_path, max_concurrent_runs=1)
    running = await bakery.submit(request(bakery.config, "hang", run_id=1))
    waiting = await bakery.submit(request(bakery.config, "ok", run_id=2))
    while not fake_runner.calls():
        await asyncio.sleep(0.05)

    await bakery.aclose()

    assert (await bakery.status(running)).state is BakeState.CANCELLED
    assert (await bakery.status(waiting)).state is BakeState.CANCELLED
    assert await gone(fake_runner.calls()[0]["pid"])


def test_the_store_is_the_one_zarr_folder_under_the_target_root(tmp_path: Path):
    from pangeo_forge_orchestrator.adapters.bakeries.local import find_store

    assert find_store(tmp_path / "missing") is None
    assert find_store(tmp_path) is None  # empty
    (tmp_path / "scratch").mkdir()
    assert find_store(tmp_path) is None  # a folder, but no store in it
    (tmp_path / "tiny.zarr").mkdir()
    (tmp_path / "tiny.zarr" / ".zgroup").write_text("{}")
    assert find_store(tmp_path) == "tiny.zarr"
    (tmp_path / "other.zarr").mkdir()
    (tmp_path / "other.zarr" / "zarr.json").write_text("{}")
    assert find_store(tmp_path) is None  # two stores: which one is the dataset is unknown
