"""The demo's checks of the machine and of the baked dataset."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from pangeo_forge_orchestrator.adapters.bakeries.registry import ENV_CACHE_DIRNAME


class DatasetUnreadable(Exception):  # noqa: N818 -- reads as the finding it reports
    """xarray could not open the dataset; the message has its error."""


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def runner_available(command: str) -> bool:
    first = command.split()[0] if command.split() else command
    return shutil.which(first) is not None or Path(first).is_file()


def open_with_xarray(data_dir: Path, url: str) -> str | None:
    """Open the store with the bake environment's xarray: its sizes and daily means, or None
    when no environment is at hand (the bakery may not cache them)."""
    pythons = sorted((data_dir / ENV_CACHE_DIRNAME).glob("*/bin/python"))
    if not pythons or not url.startswith("file://"):
        return None
    done = subprocess.run(  # noqa: S603 -- the bake's own interpreter, our own script
        [str(pythons[0]), "-c", READ_STORE, url.removeprefix("file://")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise DatasetUnreadable(f"xarray could not open {url}: {done.stderr[-500:]}")
    return done.stdout.strip()


READ_STORE = """\
import sys
import xarray as xr
ds = xr.open_dataset(sys.argv[1], engine="zarr", chunks={})
sizes = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
print(f"dimensions {sizes}; variables {', '.join(ds.data_vars)}")
print("daily means:", [round(float(v), 3) for v in ds.temperature.mean(["lat", "lon"]).values])
"""
