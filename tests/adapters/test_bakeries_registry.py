from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.adapters.bakeries.base import LAUNCHER, runner_command
from pangeo_forge_orchestrator.adapters.bakeries.dataflow import DataflowBakery
from pangeo_forge_orchestrator.adapters.bakeries.flink import FlinkBakery
from pangeo_forge_orchestrator.adapters.bakeries.local import LocalBakery
from pangeo_forge_orchestrator.adapters.bakeries.registry import (
    ENV_CACHE_DIRNAME,
    build_bakeries,
    load_bakeries,
)
from pangeo_forge_orchestrator.core.bakeries import BakeriesConfigError
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind
from tests.fake_runner import install_fake_runner

BAKERIES_YAML = """
bakeries:
  here:
    region: local
    description: This machine
    kind: local
    environment_cache: true
    target_root: "/srv/out/{subpath}"
    public_url: "https://data.example/{subpath}"
  gcp:
    region: us-central1
    description: Dataflow
    kind: dataflow
    runner_config:
      DataflowBakery:
        project_id: ${GCP_PROJECT}
        temp_gcs_location: gs://bucket/temp
    target_root: "gs://bucket/{subpath}"
    public_url: "https://storage.googleapis.com/bucket/{subpath}"
  k8s:
    region: aws
    description: Flink
    kind: flink
    runner_config:
      Bake: {container_image: "apache/beam_python3.11_sdk:2.65.0"}
    target_root: "s3://bucket/{subpath}"
    public_url: "https://bucket.example/{subpath}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bakeries.yaml"
    path.write_text(text)
    return path


def test_without_a_file_the_default_local_bakery_lives_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    registry = load_bakeries(bakeries_file=None, data_dir=Path(".pfo"), environ={})

    (bakery,) = registry
    assert bakery.production.target_root == f"{tmp_path}/.pfo/outputs/{{subpath}}"


def test_a_file_loads_with_its_references_resolved(tmp_path: Path):
    registry = load_bakeries(
        bakeries_file=write(tmp_path, BAKERIES_YAML),
        data_dir=tmp_path,
        environ={"GCP_PROJECT": "pangeo-forge-4967"},
    )

    assert [b.kind for b in registry] == [BakeryKind.LOCAL, BakeryKind.DATAFLOW, BakeryKind.FLINK]
    assert registry.redact("project pangeo-forge-4967") == "project ***"


def test_a_bad_key_is_reported_with_the_file_and_its_path(tmp_path: Path):
    path = write(tmp_path, BAKERIES_YAML.replace("kind: flink", "kind: spark"))

    with pytest.raises(BakeriesConfigError) as caught:
        load_bakeries(bakeries_file=path, data_dir=tmp_path, environ={"GCP_PROJECT": "p"})

    assert str(caught.value) == (
        f"invalid {path}:\n  bakeries.k8s.kind: must be one of local, dataflow, flink"
    )


def test_an_unset_variable_is_reported(tmp_path: Path):
    path = write(tmp_path, BAKERIES_YAML)

    with pytest.raises(BakeriesConfigError) as caught:
        load_bakeries(bakeries_file=path, data_dir=tmp_path, environ={})

    assert caught.value.problems == (
        "bakeries.gcp.runner_config.DataflowBakery.project_id: "
        "environment variable GCP_PROJECT is not set",
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [("bakeries: [unclosed", "is not valid YAML: "), ("", "(document): ")],
)
def test_unreadable_documents_are_refused(tmp_path: Path, text: str, problem: str):
    with pytest.raises(BakeriesConfigError) as caught:
        load_bakeries(bakeries_file=write(tmp_path, text), data_dir=tmp_path, environ={})

    assert caught.value.problems[0].startswith(problem)
    assert caught.value.source == str(tmp_path / "bakeries.yaml")


def test_a_missing_file_is_refused(tmp_path: Path):
    with pytest.raises(BakeriesConfigError, match="cannot be read: No such file"):
        load_bakeries(bakeries_file=tmp_path / "nope.yaml", data_dir=tmp_path, environ={})


def test_each_kind_gets_its_adapter_and_cached_environments_go_through_the_launcher(
    tmp_path: Path,
):
    fake = install_fake_runner(tmp_path)
    registry = load_bakeries(
        bakeries_file=write(tmp_path, BAKERIES_YAML),
        data_dir=tmp_path,
        environ={"GCP_PROJECT": "p"},
    )

    bakeries = build_bakeries(
        registry, runner_command_line=fake.command, environ={}, data_dir=tmp_path
    )

    assert isinstance(bakeries["here"], LocalBakery)
    assert isinstance(bakeries["gcp"], DataflowBakery)
    assert isinstance(bakeries["k8s"], FlinkBakery)
    assert bakeries["here"].command == [  # type: ignore[union-attr]
        sys.executable,
        str(LAUNCHER),
        f"--pfo-env-cache={tmp_path / ENV_CACHE_DIRNAME}",
    ]
    assert bakeries["gcp"].command == [fake.command]  # type: ignore[union-attr]


def test_runner_command_splits_like_a_shell_without_a_cache(tmp_path: Path):
    assert runner_command("'/opt/my runner/pfr' --debug", env_cache_dir=None) == [
        "/opt/my runner/pfr",
        "--debug",
    ]


@pytest.mark.parametrize(
    "script", ["#!/bin/sh\nexec python -m x\n", "no shebang\n"], ids=["shell", "none"]
)
def test_the_env_cache_needs_a_python_runner_script(tmp_path: Path, script: str):
    runner = tmp_path / "pangeo-forge-runner"
    runner.write_text(script)
    runner.chmod(0o755)

    with pytest.raises(ValueError, match="environment_cache needs PFO_RUNNER_COMMAND"):
        runner_command(str(runner), env_cache_dir=tmp_path / "envs")
    with pytest.raises(ValueError, match="environment_cache needs PFO_RUNNER_COMMAND"):
        runner_command(f"{runner} --flag", env_cache_dir=tmp_path / "envs")


def test_without_a_python_runner_a_cached_bakery_falls_back_to_the_plain_command(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    registry = load_bakeries(bakeries_file=None, data_dir=tmp_path, environ={})

    bakeries = build_bakeries(
        registry, runner_command_line="no-such-runner-xyz", environ={}, data_dir=tmp_path
    )

    assert bakeries["local"].command == ["no-such-runner-xyz"]  # type: ignore[attr-defined]
    assert "runs without the environment cache" in caplog.text
