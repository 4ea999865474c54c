from __future__ import annotations

import pytest

from pangeo_forge_orchestrator.core.bakeries import BAKERY_CLASSES, parse_bakeries
from pangeo_forge_orchestrator.core.bakes import BakeRequest
from pangeo_forge_orchestrator.core.runner_args import (
    bake_argv,
    bake_config,
    bake_env,
    child_env,
    expand_meta_argv,
    interpreter_from_shebang,
)
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind, DatasetType

SHA = "0123456789abcdef0123456789abcdef01234567"
ENVIRON = {
    "PATH": "/usr/bin",
    "HOME": "/home/pfo",
    "LANG": "C.UTF-8",
    "TMPDIR": "/tmp",
    "PFO_GITHUB_WEBHOOK_SECRET": "s",
    "DATABASE_URL": "postgres://x",
    "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
    "AWS_SECRET_ACCESS_KEY": "a",
    "PYTHONPATH": "/x",
    "PIP_INDEX_URL": "https://pip.example/simple",
    "PROD_TOKEN": "prod-token-value",
    "TEST_TOKEN": "test-token-value",
}


def request(**overrides) -> BakeRequest:
    fields = {
        "recipe_run_id": 3,
        "repo_url": "https://github.com/pangeo-forge/gpcp-feedstock",
        "ref": SHA,
        "recipe_id": "gpcp",
        "is_test": True,
        "feedstock_spec": "pangeo-forge/gpcp-feedstock",
        "dataset_type": DatasetType.ZARR,
        "job_name": "pfo-pangeo-forge-run-3",
        "target_root": "gs://b/pangeo-forge/test/x/recipe-run-3/gpcp.zarr",
        "public_url": "https://b/pangeo-forge/test/x/recipe-run-3/gpcp.zarr",
    } | overrides
    return BakeRequest(**fields)


def test_expand_meta_argv_is_the_original_one():
    argv = expand_meta_argv(["pangeo-forge-runner"], repo_url="https://github.com/o/r", ref=SHA)

    assert argv == [
        "pangeo-forge-runner",
        "expand-meta",
        "--repo=https://github.com/o/r",
        f"--ref={SHA}",
        "--json",
    ]
    assert expand_meta_argv(["r"], repo_url="u", ref="s", feedstock_subdir="recipes/x")[-1] == (
        "--feedstock-subdir=recipes/x"
    )


def test_a_test_run_is_pruned():
    argv = bake_argv(["/opt/runner"], request=request(), config_path="/tmp/c.json")

    assert argv == [
        "/opt/runner",
        "bake",
        "--repo=https://github.com/pangeo-forge/gpcp-feedstock",
        f"--ref={SHA}",
        "--json",
        "--prune",
        "--Bake.recipe_id=gpcp",
        "-f",
        "/tmp/c.json",
    ]


def test_a_production_run_is_not_pruned_and_may_name_a_subdir():
    argv = bake_argv(
        ["python", "launcher.py"],
        request=request(is_test=False, feedstock_subdir="recipes/gpcp"),
        config_path="/tmp/c.json",
    )

    assert argv == [
        "python",
        "launcher.py",
        "bake",
        "--repo=https://github.com/pangeo-forge/gpcp-feedstock",
        f"--ref={SHA}",
        "--json",
        "--Bake.recipe_id=gpcp",
        "-f",
        "/tmp/c.json",
        "--feedstock-subdir=recipes/gpcp",
    ]


def test_child_env_is_an_allow_list():
    assert child_env(ENVIRON) == {
        "PATH": "/usr/bin",
        "HOME": "/home/pfo",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
    }


def bakery():
    doc = {
        "bakeries": {
            "osn": {
                "region": "r",
                "description": "d",
                "kind": "local",
                "runner_config": {
                    "TargetStorage": {"fsspec_args": {"token": "${PROD_TOKEN}"}},
                    "LocalDirectBakery": {"num_workers": 1},
                },
                "env": {"BAKERY_TOKEN": "${PROD_TOKEN}"},
                "target_root": "/prod/{subpath}",
                "public_url": "file:///prod/{subpath}",
                "test": {
                    "runner_config": {"TargetStorage": {"fsspec_args": {"token": "${TEST_TOKEN}"}}},
                    "env": {"BAKERY_TOKEN": "${TEST_TOKEN}"},
                    "target_root": "/test/{subpath}",
                    "public_url": "file:///test/{subpath}",
                },
            }
        }
    }
    return parse_bakeries(doc, environ=ENVIRON)["osn"]


def test_bake_env_adds_pip_settings_and_the_profiles_env_only():
    production = bake_env(bakery(), request(is_test=False), ENVIRON)
    test = bake_env(bakery(), request(is_test=True), ENVIRON)

    base = {"PATH": "/usr/bin", "HOME": "/home/pfo", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    pip = {"PIP_INDEX_URL": "https://pip.example/simple"}
    assert production == base | pip | {"BAKERY_TOKEN": "prod-token-value"}
    assert test == base | pip | {"BAKERY_TOKEN": "test-token-value"}


def test_bake_config_sets_what_each_run_decides():
    config = bake_config(bakery(), request(is_test=False))

    assert config == {
        "Bake": {
            "bakery_class": BAKERY_CLASSES[BakeryKind.LOCAL],
            "job_name": "pfo-pangeo-forge-run-3",
        },
        "TargetStorage": {
            "fsspec_args": {"token": "prod-token-value"},
            "root_path": "gs://b/pangeo-forge/test/x/recipe-run-3/gpcp.zarr",
        },
        "LocalDirectBakery": {"num_workers": 1},
    }
    test_config = bake_config(bakery(), request(is_test=True))
    assert "prod-token-value" not in str(test_config)
    assert test_config["TargetStorage"]["fsspec_args"] == {"token": "test-token-value"}


def test_bake_config_does_not_touch_the_bakerys_own_config():
    config = bakery()
    bake_config(config, request(is_test=False))

    assert "root_path" not in config.production.runner_config["TargetStorage"]  # type: ignore[operator]
    assert "Bake" not in config.production.runner_config


@pytest.mark.parametrize(
    ("line", "interpreter"),
    [
        ("#!/srv/runner/bin/python3", ["/srv/runner/bin/python3"]),
        ("#!/usr/bin/env python3", ["/usr/bin/env", "python3"]),
        ("#! /usr/bin/python3.11 -E", ["/usr/bin/python3.11", "-E"]),
        ("#!/bin/sh", None),
        ("import sys", None),
        ("#!", None),
    ],
)
def test_interpreter_from_shebang(line, interpreter):
    assert interpreter_from_shebang(line) == interpreter
