from __future__ import annotations

import pytest

from pangeo_forge_orchestrator.core.storage import (
    RunStorage,
    render_storage,
    storage_subpath,
    template_fields,
)


def test_a_test_run_gets_a_folder_of_its_own():
    subpath = storage_subpath(
        app_name="pangeo-forge",
        feedstock_spec="pangeo-forge/gpcp-feedstock",
        recipe_id="gpcp",
        dataset_type="zarr",
        is_test=True,
        recipe_run_id=42,
    )

    assert subpath == "pangeo-forge/test/pangeo-forge/gpcp-feedstock/recipe-run-42/gpcp.zarr"


def test_a_production_run_writes_the_published_path():
    subpath = storage_subpath(
        app_name="pangeo-forge-staging",
        feedstock_spec="pangeo-forge/gpcp-feedstock",
        recipe_id="gpcp",
        dataset_type="kerchunk",
        is_test=False,
        recipe_run_id=42,
    )

    assert subpath == "pangeo-forge-staging/pangeo-forge/gpcp-feedstock/gpcp.kerchunk"


def test_the_original_osn_templates_render_the_original_urls():
    subpath = "pangeo-forge/pangeo-forge/gpcp-feedstock/gpcp.zarr"

    storage = render_storage(
        target_root_template="Pangeo/{subpath}",
        public_url_template="https://ncsa.osn.xsede.org/{root_path}",
        app_name="pangeo-forge",
        subpath=subpath,
    )

    assert storage == RunStorage(
        target_root="Pangeo/pangeo-forge/pangeo-forge/gpcp-feedstock/gpcp.zarr",
        public_url="https://ncsa.osn.xsede.org/Pangeo/pangeo-forge/pangeo-forge/gpcp-feedstock/gpcp.zarr",
    )


def test_templates_may_name_the_app_and_the_subpath():
    storage = render_storage(
        target_root_template="gs://bucket/{app_name}-data/{subpath}",
        public_url_template="https://storage.googleapis.com/bucket/{app_name}-data/{subpath}",
        app_name="pfo",
        subpath="pfo/a/b.zarr",
    )

    assert storage.target_root == "gs://bucket/pfo-data/pfo/a/b.zarr"
    assert storage.public_url == "https://storage.googleapis.com/bucket/pfo-data/pfo/a/b.zarr"


def test_template_fields_lists_placeholders_and_refuses_malformed_ones():
    assert template_fields("s3://{app_name}/{subpath}/x") == {"app_name", "subpath"}
    assert template_fields("no placeholders") == set()
    for bad in ("{subpath", "{0}", "{subpath!r}", "{subpath:>10}", "{a.b}"):
        with pytest.raises(ValueError):
            template_fields(bad)
