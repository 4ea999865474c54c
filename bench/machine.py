"""What the benchmark ran on, and where the CPU time went while it ran."""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


def describe() -> dict[str, Any]:
    """nproc, CPU model, memory, kernel, Python: the machine line of docs/benchmarks.md."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
    }


def code_version(repo: Path) -> dict[str, str]:
    """The commit, and a digest of the request-path code (the tree may hold uncommitted work)."""
    digest = hashlib.sha256()
    package = repo / "pangeo_forge_orchestrator"
    for path in sorted([*package.glob("api/*.py"), *package.glob("db/*.py"), package / "app.py"]):
        digest.update(path.read_bytes())
    # Read-only git: the benchmark never changes the repository.
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {"commit": head or "unknown", "api_and_db_sha256": digest.hexdigest()[:16]}


def busy_seconds() -> float:
    """CPU seconds spent not idle on the whole machine since boot (all CPUs)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / ticks


def _cpu_of(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def postgres_seconds(postmaster_pid: int) -> float:
    """CPU seconds of the postmaster and its live children (backends, checkpointer, ...)."""
    try:
        root = psutil.Process(postmaster_pid)
        return _cpu_of(root) + sum(_cpu_of(child) for child in root.children(recursive=True))
    except psutil.Error:
        return 0.0


def children_seconds() -> float:
    """CPU seconds of this process's finished children (the load generator runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    machine: float
    server: float
    postgres: float
    loadgen: float
    harness: float


def snapshot(*, wall: float, server_pid: int, postmaster_pid: int) -> CpuSnapshot:
    return CpuSnapshot(
        wall=wall,
        machine=busy_seconds(),
        server=_cpu_of(psutil.Process(server_pid)),
        postgres=postgres_seconds(postmaster_pid),
        loadgen=children_seconds(),
        harness=self_seconds(),
    )


def cpu_shares(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Each party's CPU use over the window, in % of one core; `other` is everyone else."""
    wall = after.wall - before.wall
    if wall <= 0:
        return {}
    parts = {
        "server": after.server - before.server,
        "postgres": after.postgres - before.postgres,
        "loadgen": after.loadgen - before.loadgen,
        "harness": after.harness - before.harness,
    }
    machine = after.machine - before.machine
    parts["other"] = max(0.0, machine - sum(parts.values()))
    return {name: round(100 * seconds / wall, 1) for name, seconds in parts.items()}


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
