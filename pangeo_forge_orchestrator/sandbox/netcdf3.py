"""A minimal NetCDF classic (CDF-1) writer: fixed dimensions, double variables, text attributes.

Enough for the real bake's input files without numpy, netCDF4 or h5py in the test's venv
(the format: https://docs.unidata.ucar.edu/netcdf-c/current/file_format_specifications.html).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_DIMENSION, _VARIABLE, _ATTRIBUTE = 0x0A, 0x0B, 0x0C
_CHAR, _DOUBLE = 2, 6


@dataclass
class Variable:
    dimensions: Sequence[str]
    values: Sequence[float]  # row-major, len == product of the dimensions' sizes
    attributes: Mapping[str, str] = field(default_factory=dict)


def _int(value: int) -> bytes:
    return struct.pack(">i", value)


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _name(name: str) -> bytes:
    encoded = name.encode()
    return _int(len(encoded)) + _padded(encoded)


def _attributes(attributes: Mapping[str, str]) -> bytes:
    if not attributes:
        return _int(0) + _int(0)
    out = _int(_ATTRIBUTE) + _int(len(attributes))
    for name, text in attributes.items():
        encoded = text.encode()
        out += _name(name) + _int(_CHAR) + _int(len(encoded)) + _padded(encoded)
    return out


def write_netcdf3(
    path: Path,
    *,
    dimensions: Mapping[str, int],
    variables: Mapping[str, Variable],
    attributes: Mapping[str, str] | None = None,
) -> None:
    """Write a NetCDF classic file with the given fixed-size dimensions and double variables."""
    names = list(dimensions)

    def header(offsets: Sequence[int]) -> bytes:
        out = b"CDF\x01" + _int(0)  # no record dimension, so zero records
        out += _int(_DIMENSION) + _int(len(names))
        for name in names:
            out += _name(name) + _int(dimensions[name])
        out += _attributes(attributes or {})
        out += _int(_VARIABLE) + _int(len(variables))
        for (name, variable), begin in zip(variables.items(), offsets, strict=True):
            out += _name(name) + _int(len(variable.dimensions))
            out += b"".join(_int(names.index(d)) for d in variable.dimensions)
            out += _attributes(variable.attributes)
            out += _int(_DOUBLE) + _int(8 * len(variable.values)) + _int(begin)
        return out

    for name, variable in variables.items():
        expected = math.prod(dimensions[d] for d in variable.dimensions)
        if len(variable.values) != expected:
            raise ValueError(f"{name} has {len(variable.values)} values, its shape {expected}")
    # The header's size does not depend on the offsets' values: measure it, then lay out data.
    offset, offsets = len(header([0] * len(variables))), []
    for variable in variables.values():
        offsets.append(offset)
        offset += 8 * len(variable.values)
    data = b"".join(struct.pack(f">{len(v.values)}d", *v.values) for v in variables.values())
    path.write_bytes(header(offsets) + data)
