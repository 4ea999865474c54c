"""A tiny real recipe: two daily NetCDF files of a 4x5 grid, baked into a Zarr store.

The demo proposes it to staged-recipes, and the slow tests bake it. Every value of day i is i,
so a baked store is checkable. The requirements are pinned to what bakes on this machine:
apache-beam stays below the release whose DirectRunner first downloads a Prism binary and
re-stages the requirements (a minute lost); the inputs are NetCDF classic, read by scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pangeo_forge_orchestrator.sandbox.netcdf3 import Variable, write_netcdf3

RECIPE_ID = "tiny"
STORE_NAME = "tiny.zarr"
DAYS = ("2020-01-01", "2020-01-02")
LAT, LON = 4, 5

REQUIREMENTS = """\
pangeo-forge-recipes==0.10.8
zarr==2.18.3
numcodecs<0.16
xarray==2024.7.0
numpy<2.1
pandas<2.3
apache-beam==2.65.0
scipy
"""

META = """\
title: {title}
description: Two days of a {lat}x{lon} temperature grid, written on this machine
recipes:
  - id: {recipe_id}
    object: "recipe:recipe"
provenance:
  providers:
    - name: {provider}
      roles: [producer, licensor]
  license: CC-BY-4.0
maintainers:
  - name: {maintainer}
    github: {maintainer}
bakery:
  id: local
"""

RECIPE = """\
import apache_beam as beam
import pandas as pd
from pangeo_forge_recipes.patterns import ConcatDim, FilePattern
from pangeo_forge_recipes.transforms import OpenURLWithFSSpec, OpenWithXarray, StoreToZarr

INPUTS = {inputs!r}
dates = pd.date_range("{first}", periods={count}, freq="D")


def make_url(time):
    return f"file://{{INPUTS}}/temperature-{{time:%Y-%m-%d}}.nc"


pattern = FilePattern(make_url, ConcatDim("time", dates, nitems_per_file=1), file_type="netcdf3")

recipe = (
    beam.Create(pattern.items())
    | OpenURLWithFSSpec()
    | OpenWithXarray(file_type=pattern.file_type)
    | StoreToZarr(store_name="{store}", combine_dims=pattern.combine_dim_keys)
)
"""


@dataclass(frozen=True)
class TinyRecipe:
    """The three files of the recipe, reading its inputs from INPUTS."""

    meta_yaml: str
    recipe_py: str
    requirements_txt: str

    def files(self, folder: str) -> dict[str, bytes]:
        return {
            f"{folder}/meta.yaml": self.meta_yaml.encode(),
            f"{folder}/recipe.py": self.recipe_py.encode(),
            f"{folder}/requirements.txt": self.requirements_txt.encode(),
        }


def write_inputs(directory: Path) -> list[Path]:
    """Write the two daily input files into DIRECTORY; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for day_index, day in enumerate(DAYS):
        path = directory / f"temperature-{day}.nc"
        write_netcdf3(
            path,
            dimensions={"time": 1, "lat": LAT, "lon": LON},
            variables={
                "time": Variable(["time"], [float(day_index)], {"units": f"days since {DAYS[0]}"}),
                "lat": Variable(
                    ["lat"], [float(i) for i in range(LAT)], {"units": "degrees_north"}
                ),
                "lon": Variable(["lon"], [float(i) for i in range(LON)], {"units": "degrees_east"}),
                "temperature": Variable(
                    ["time", "lat", "lon"], [float(day_index)] * (LAT * LON), {"units": "K"}
                ),
            },
            attributes={"title": "tiny input"},
        )
        written.append(path)
    return written


def tiny_recipe(
    inputs: Path,
    *,
    title: str = "Tiny temperature",
    maintainer: str = "test",
    provider: str = "The test suite",
) -> TinyRecipe:
    """The recipe's files, reading the inputs written by `write_inputs(INPUTS)`."""
    return TinyRecipe(
        meta_yaml=META.format(
            title=title,
            lat=LAT,
            lon=LON,
            recipe_id=RECIPE_ID,
            provider=provider,
            maintainer=maintainer,
        ),
        recipe_py=RECIPE.format(
            inputs=str(inputs.absolute()), first=DAYS[0], count=len(DAYS), store=STORE_NAME
        ),
        requirements_txt=REQUIREMENTS,
    )
