from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pangeo_forge_orchestrator.core.bakeries import (
    BAKERY_CLASSES,
    DEFAULT_BAKERY_NAME,
    LOCAL_FILESYSTEM,
    BakeriesConfigError,
    default_registry,
    parse_bakeries,
)
from pangeo_forge_orchestrator.core.secrets import REDACTED, redact, reveal
from pangeo_forge_orchestrator.core.vocabulary import BakeryKind

ENVIRON = {
    "OSN_TOKEN": "osn-production-token",
    "OSN_TEST_TOKEN": "osn-test-token",
    "GCP_PROJECT": "pangeo-forge-4967",
    "QUOTED": 'has "quotes" and \\ slash',
}


def document() -> dict[str, Any]:
    return {
        "bakeries": {
            "pangeo-ldeo-nsf-earthcube": {
                "region": "us-central1",
                "description": "Dataflow bakery",
                "kind": "dataflow",
                "runner_config": {
                    "DataflowBakery": {
                        "project_id": "${GCP_PROJECT}",
                        "temp_gcs_location": "gs://pangeo-forge-prod-dataflow/temp",
                        "max_num_workers": 10,
                    },
                    "TargetStorage": {
                        "fsspec_class": "s3fs.S3FileSystem",
                        "fsspec_args": {"key": "public-key", "secret": "${OSN_TOKEN}"},
                    },
                },
                "env": {"BAKERY_TOKEN": "Bearer ${OSN_TOKEN}"},
                "target_root": "Pangeo/{subpath}",
                "public_url": "https://ncsa.osn.xsede.org/{root_path}",
                "max_concurrent_runs": 8,
                "max_run_seconds": 21600,
                "test": {
                    "runner_config": {
                        "DataflowBakery": {
                            "project_id": "${GCP_PROJECT}",
                            "temp_gcs_location": "gs://pangeo-forge-test/temp",
                        },
                        "TargetStorage": {"fsspec_args": {"secret": "${OSN_TEST_TOKEN}"}},
                    },
                    "target_root": "Pangeo-test/{subpath}",
                    "public_url": "https://ncsa.osn.xsede.org/{root_path}",
                },
            },
            "local": {
                "region": "local",
                "description": "This machine",
                "kind": "local",
                "env": {"QUOTED_VALUE": "${QUOTED}"},
                "target_root": "/srv/outputs/{subpath}",
                "public_url": "https://data.example/{app_name}-{subpath}",
            },
        }
    }


def problems_of(doc: Any, environ: dict[str, str] = ENVIRON) -> tuple[str, ...]:
    with pytest.raises(BakeriesConfigError) as caught:
        parse_bakeries(doc, environ=environ)
    return caught.value.problems


def test_a_full_document_parses_into_typed_bakeries():
    registry = parse_bakeries(document(), environ=ENVIRON)

    dataflow = registry["pangeo-ldeo-nsf-earthcube"]
    assert dataflow.kind is BakeryKind.DATAFLOW
    assert dataflow.region == "us-central1"
    assert (dataflow.max_concurrent_runs, dataflow.max_run_seconds) == (8, 21600)
    assert dataflow.bakery_class == BAKERY_CLASSES[BakeryKind.DATAFLOW]
    local = registry["local"]
    assert (local.max_concurrent_runs, local.environment_cache, local.test) == (4, False, None)
    assert [b.name for b in registry] == ["pangeo-ldeo-nsf-earthcube", "local"]
    assert "local" in registry
    assert "elsewhere" not in registry


def test_env_references_resolve_to_secrets_that_repr_never_shows():
    registry = parse_bakeries(document(), environ=ENVIRON)
    production = registry["pangeo-ldeo-nsf-earthcube"].production

    secret = production.runner_config["TargetStorage"]["fsspec_args"]["secret"]  # type: ignore[index,call-overload]
    assert isinstance(secret, SecretStr)
    assert secret.get_secret_value() == "osn-production-token"
    assert production.env["BAKERY_TOKEN"].get_secret_value() == "Bearer osn-production-token"
    # Values without a reference stay plain.
    assert production.runner_config["TargetStorage"]["fsspec_args"]["key"] == "public-key"  # type: ignore[index,call-overload]
    for text in (repr(registry), str(registry), repr(production)):
        assert "osn-production-token" not in text
        assert "pangeo-forge-4967" not in text


def test_reveal_gives_the_runner_plain_values():
    registry = parse_bakeries(document(), environ=ENVIRON)

    config = reveal(registry["pangeo-ldeo-nsf-earthcube"].production.runner_config)

    assert config["TargetStorage"]["fsspec_args"] == {
        "key": "public-key",
        "secret": "osn-production-token",
    }
    assert config["DataflowBakery"]["max_num_workers"] == 10


def test_test_runs_use_the_test_profile_and_never_the_production_one():
    bakery = parse_bakeries(document(), environ=ENVIRON)["pangeo-ldeo-nsf-earthcube"]

    test_profile = bakery.profile(is_test=True)
    assert test_profile is bakery.test
    assert bakery.profile(is_test=False) is bakery.production
    revealed = str(reveal(test_profile.runner_config)) + str(dict(test_profile.env))
    assert "osn-production-token" not in revealed
    assert "osn-test-token" in revealed
    assert test_profile.env == {}
    # Without a test profile, test runs use the production one (the original's behaviour).
    local = parse_bakeries(document(), environ=ENVIRON)["local"]
    assert local.profile(is_test=True) is local.production


def test_redact_replaces_every_secret_as_written_and_as_json_escapes_it():
    registry = parse_bakeries(document(), environ=ENVIRON)
    text = (
        "token=osn-production-token test=osn-test-token project=pangeo-forge-4967 "
        '{"q": "has \\"quotes\\" and \\\\ slash"} raw=has "quotes" and \\ slash'
    )

    redacted = registry.redact(text)

    assert redacted == (
        f'token={REDACTED} test={REDACTED} project={REDACTED} {{"q": "{REDACTED}"}} raw={REDACTED}'
    )


def test_redact_leaves_values_too_short_to_be_secrets():
    assert redact("region us and key abcd", [SecretStr("us"), SecretStr("abcd")]) == (
        f"region us and key {REDACTED}"
    )


def test_a_bad_kind_names_its_key_path():
    doc = document()
    doc["bakeries"]["local"]["kind"] = "kubernetes"

    assert problems_of(doc) == ("bakeries.local.kind: must be one of local, dataflow, flink",)


def test_missing_and_unknown_keys_name_their_paths():
    doc = document()
    del doc["bakeries"]["local"]["region"]
    doc["bakeries"]["local"]["regoin"] = "typo"
    doc["bakeries"]["local"]["max_concurrent_runs"] = 0

    assert set(problems_of(doc)) == {
        "bakeries.local.region: is required",
        "bakeries.local.regoin: is not a known key",
        "bakeries.local.max_concurrent_runs: input should be greater than or equal to 1",
    }


@pytest.mark.parametrize("doc", [None, [], {"bakeries": {}}, {"bakeries": "x"}, {"other": 1}])
def test_documents_of_the_wrong_shape_are_refused(doc):
    assert problems_of(doc)


def test_an_unset_environment_variable_names_the_key_and_the_variable():
    environ = {k: v for k, v in ENVIRON.items() if k != "OSN_TEST_TOKEN"}

    assert problems_of(document(), environ) == (
        "bakeries.pangeo-ldeo-nsf-earthcube.test.runner_config.TargetStorage.fsspec_args.secret:"
        " environment variable OSN_TEST_TOKEN is not set",
    )


def test_templates_are_checked():
    doc = document()
    local = doc["bakeries"]["local"]
    local["target_root"] = "/srv/{bucket}/out"
    local["public_url"] = "https://x/${HOST}/{subpath}"

    assert set(problems_of(doc)) == {
        "bakeries.local.target_root: unknown placeholder {bucket}; use {app_name}, {subpath}",
        "bakeries.local.target_root: must contain {subpath}",
        "bakeries.local.public_url: ${VAR} references are only resolved in runner_config and env",
    }
    local["target_root"] = "/srv/{subpath"
    local["public_url"] = "https://x/{subpath}"
    assert problems_of(doc)[0].startswith("bakeries.local.target_root: ")


def test_keys_each_run_sets_may_not_be_configured():
    doc = document()
    doc["bakeries"]["local"]["runner_config"] = {
        "TargetStorage": {"root_path": "/fixed"},
        "Bake": {"job_name": "fixed", "bakery_class": BAKERY_CLASSES[BakeryKind.DATAFLOW]},
    }

    assert set(problems_of(doc)) == {
        "bakeries.local.runner_config.TargetStorage.root_path: is set per run; remove it",
        "bakeries.local.runner_config.Bake.job_name: is set per run; remove it",
        "bakeries.local.runner_config.Bake.bakery_class: must be "
        "pangeo_forge_runner.bakery.local.LocalDirectBakery for kind local (or be left out)",
    }


def test_each_kind_requires_what_its_runner_needs():
    doc = document()
    dataflow = doc["bakeries"]["pangeo-ldeo-nsf-earthcube"]
    del dataflow["runner_config"]["DataflowBakery"]["temp_gcs_location"]
    doc["bakeries"]["flink"] = {
        **copy.deepcopy(doc["bakeries"]["local"]),
        "kind": "flink",
    }

    assert set(problems_of(doc)) == {
        "bakeries.pangeo-ldeo-nsf-earthcube.runner_config.DataflowBakery.temp_gcs_location: "
        "is required for kind dataflow",
        "bakeries.flink.runner_config.Bake.container_image: is required for kind flink",
    }


def test_bakery_names_are_slugs():
    doc = {"bakeries": {"bad name!": document()["bakeries"]["local"]}}

    assert problems_of(doc) == (
        "bakeries.bad name!: a bakery name is letters, digits, '.', '_' and '-'",
    )


def test_the_error_message_lists_every_problem():
    doc = document()
    doc["bakeries"]["local"]["kind"] = "nope"
    del doc["bakeries"]["local"]["description"]

    with pytest.raises(BakeriesConfigError) as caught:
        parse_bakeries(doc, environ=ENVIRON)

    assert str(caught.value) == (
        "invalid bakeries file:\n"
        "  bakeries.local.description: is required\n"
        "  bakeries.local.kind: must be one of local, dataflow, flink"
    )


def test_the_default_registry_is_one_local_bakery_under_the_data_dir(tmp_path: Path):
    registry = default_registry(data_dir=tmp_path)

    (bakery,) = registry
    assert bakery.name == DEFAULT_BAKERY_NAME
    assert bakery.kind is BakeryKind.LOCAL
    assert bakery.environment_cache is True
    storage = bakery.production.locate(app_name="pangeo-forge", subpath="pangeo-forge/a/b.zarr")
    assert storage.target_root == f"{tmp_path}/outputs/pangeo-forge/a/b.zarr"
    assert storage.public_url == f"file://{tmp_path}/outputs/pangeo-forge/a/b.zarr"
    assert reveal(bakery.production.runner_config) == {
        "TargetStorage": {"fsspec_class": LOCAL_FILESYSTEM}
    }
    with pytest.raises(ValueError, match="absolute"):
        default_registry(data_dir=Path(".pfo"))
