from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.adapters.bakeries.flink import FlinkBakery
from pangeo_forge_orchestrator.core.bakeries import BAKERY_CLASSES, parse_bakeries
from pangeo_forge_orchestrator.core.bakes import BakeState, plan_bake
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, DatasetType
from tests.fake_runner import FakeRunner, install_fake_runner

pytestmark = pytest.mark.anyio

SHA = "0123456789abcdef0123456789abcdef01234567"
FLINK_OPTIONS = {
    "flink_version": "1.16",
    "job_manager_resources": {"memory": "1024m", "cpu": 0.3},
    "task_manager_resources": {"memory": "2048m", "cpu": 0.3},
    "parallelism": 2,
}


@pytest.fixture
def fake_runner(tmp_path: Path) -> FakeRunner:
    return install_fake_runner(tmp_path)


def flink_config(kind: str = "flink"):
    doc = {
        "bakeries": {
            "k8s": {
                "region": "aws-us-west-2",
                "description": "Flink on Kubernetes",
                "kind": kind,
                "runner_config": {
                    "Bake": {"container_image": "apache/beam_python3.11_sdk:2.65.0"},
                    "FlinkOperatorBakery": FLINK_OPTIONS,
                    "TargetStorage": {
                        "fsspec_class": "s3fs.S3FileSystem",
                        "fsspec_args": {"key": "${S3_KEY}", "secret": "${S3_SECRET}"},
                    },
                },
                "target_root": "s3://bucket/{subpath}",
                "public_url": "https://bucket.s3.amazonaws.com/{subpath}",
            }
        }
    }
    return parse_bakeries(doc, environ={"S3_KEY": "key-id-1", "S3_SECRET": "s3-secret-2"})


async def test_flink_bakes_run_the_flink_operator_bakery(fake_runner: FakeRunner):
    registry = flink_config()
    bakery = FlinkBakery(
        registry["k8s"],
        runner_command=[fake_runner.command],
        environ=fake_runner.environ,
        redact=registry.redact,
    )
    request = plan_bake(
        bakery.config,
        app_name="pangeo-forge",
        recipe_run_id=11,
        repo_url="https://github.com/pangeo-forge/staged-recipes",
        ref=SHA,
        recipe_id="ok",
        is_test=True,
        feedstock_spec="pangeo-forge/staged-recipes",
        dataset_type=DatasetType.ZARR,
        feedstock_subdir="recipes/gpcp",
    )

    handle = await bakery.submit(request)
    status = await asyncio.wait_for(bakery.wait(handle), 30)

    assert status.state is BakeState.SUCCEEDED
    (call,) = fake_runner.calls()
    assert call["argv"] == [
        "bake",
        "--repo=https://github.com/pangeo-forge/staged-recipes",
        f"--ref={SHA}",
        "--json",
        "--prune",
        "--Bake.recipe_id=ok",
        "-f",
        call["argv"][-2],
        "--feedstock-subdir=recipes/gpcp",
    ]
    assert call["config"] == {
        "Bake": {
            "container_image": "apache/beam_python3.11_sdk:2.65.0",
            "bakery_class": BAKERY_CLASSES[BakeryKind.FLINK],
            "job_name": "pfo-pangeo-forge-run-11",
        },
        "FlinkOperatorBakery": FLINK_OPTIONS,
        "TargetStorage": {
            "fsspec_class": "s3fs.S3FileSystem",
            "fsspec_args": {"key": "key-id-1", "secret": "s3-secret-2"},
            "root_path": (
                "s3://bucket/pangeo-forge/test/pangeo-forge/staged-recipes/recipe-run-11/ok.zarr"
            ),
        },
    }
    assert (
        BAKERY_CLASSES[BakeryKind.FLINK] == "pangeo_forge_runner.bakery.flink.FlinkOperatorBakery"
    )


def test_a_flink_bakery_needs_a_flink_config(fake_runner: FakeRunner):
    doc_registry = parse_bakeries(
        {
            "bakeries": {
                "here": {
                    "region": "r",
                    "description": "d",
                    "kind": "local",
                    "target_root": "/o/{subpath}",
                    "public_url": "file:///o/{subpath}",
                }
            }
        },
        environ={},
    )

    with pytest.raises(ValueError, match="not flink"):
        FlinkBakery(doc_registry["here"], runner_command=["r"], environ={}, redact=str)
