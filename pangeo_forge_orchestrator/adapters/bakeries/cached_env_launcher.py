"""Run pangeo-forge-runner with feedstock environments reused across runs.

Executed as a script by the runner's own interpreter (it is never imported by the service, and
imports nothing but the standard library until it hands over to the runner):

    <runner python> cached_env_launcher.py --pfo-env-cache=<dir> bake --repo=... ...

pangeo-forge-runner 0.10.x builds a fresh virtualenv from the feedstock's requirements.txt for
every bake (venvception.venv: a temporary directory, `pip install -r`, deleted afterwards); its
`env_id` only names the temporary directory. For a small recipe that set-up is nearly all of the
bake's time. This launcher replaces `venvception.venv` before the runner imports it with one
that keeps each environment under `<dir>/<sha256 of python version + requirements.txt>`:
built once under an exclusive lock, used under a shared lock, the least recently used ones
beyond `--pfo-env-cache-keep` removed when nobody uses them.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib
import json
import os
import shutil
import site
import subprocess
import sys
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CACHE_FLAG = "--pfo-env-cache="
KEEP_FLAG = "--pfo-env-cache-keep="
DEFAULT_KEEP = 3
READY_MARKER = ".pfo-env-ready"
USAGE = f"usage: cached_env_launcher.py {CACHE_FLAG}DIR [{KEEP_FLAG}N] <runner arguments>"
RUNNER_CHANGED = (
    "pangeo-forge-runner no longer builds environments with venvception.venv; "
    "turn the bakery's environment_cache off"
)

Builder = Callable[[Path, Path], None]


def python_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def environment_key(requirements: bytes, tag: str) -> str:
    """Name an environment by what decides its contents: the interpreter and the requirements."""
    return hashlib.sha256(tag.encode() + b"\0" + requirements).hexdigest()[:32]


def build_environment(path: Path, requirements_file: Path) -> None:
    """Create a virtualenv at path and install the requirements (pip's output goes to stdout)."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--prefer-binary", "-r", str(requirements_file)]
    subprocess.check_call(pip, stdout=sys.stdout, stderr=sys.stdout)  # noqa: S603 (our argv)


def _say(message: str) -> None:
    # A JSON line without a status: kept as log text, never mistaken for a progress line.
    print(json.dumps({"message": message}), flush=True)


@contextlib.contextmanager
def _locked(lock_path: Path, mode: int) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_environment(
    cache_dir: Path, requirements_file: Path, *, build: Builder = build_environment
) -> Path:
    """Build the environment for these requirements unless it is ready; return its path."""
    key = environment_key(requirements_file.read_bytes(), python_tag())
    path = cache_dir / key
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f"{key}.lock", fcntl.LOCK_EX):
        if not (path / READY_MARKER).exists():
            _say(f"Building the environment {key} (cached for later runs)")
            # Built in place (a virtualenv cannot be moved); the marker is written last, so a
            # build that died halfway is simply built again.
            shutil.rmtree(path, ignore_errors=True)
            build(path, requirements_file)
            (path / READY_MARKER).write_text(requirements_file.read_text())
    return path


@contextlib.contextmanager
def using_environment(
    cache_dir: Path, requirements_file: Path, *, build: Builder = build_environment
) -> Iterator[Path]:
    """Hold the environment for these requirements (shared lock) while the block runs."""
    key = environment_key(requirements_file.read_bytes(), python_tag())
    path = cache_dir / key
    cache_dir.mkdir(parents=True, exist_ok=True)
    while True:
        with _locked(cache_dir / f"{key}.lock", fcntl.LOCK_SH):
            if (path / READY_MARKER).exists():
                (path / READY_MARKER).touch()  # its mtime is the last use, for pruning
                _say(f"Using the cached environment {key}")
                yield path
                return
        # Not ready (or pruned between two locks): build it, then take the shared lock again.
        ensure_environment(cache_dir, requirements_file, build=build)


def prune_environments(cache_dir: Path, *, keep: int, protect: Path) -> list[Path]:
    """Remove the least recently used ready environments beyond `keep`, if no run uses them."""
    ready = [p.parent for p in cache_dir.glob(f"*/{READY_MARKER}") if p.parent != protect]
    ready.sort(key=lambda p: (p / READY_MARKER).stat().st_mtime, reverse=True)
    removed = []
    for path in ready[max(keep - 1, 0) :]:
        with open(cache_dir / f"{path.name}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use by a run
            (path / READY_MARKER).unlink(missing_ok=True)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def cached_venv(
    requirements_file: Path,
    env_id: str | None = None,
    *,
    cache_dir: Path,
    keep: int = DEFAULT_KEEP,
    build: Builder = build_environment,
) -> Iterator[Path]:
    """Stand in for venvception.venv: same activation, but the environment outlives the run."""
    del env_id  # venvception's name for its temporary directory; the key names ours
    with using_environment(cache_dir, Path(requirements_file), build=build) as path:
        prune_environments(cache_dir, keep=keep, protect=path)
        with _activated(path):
            yield path


@contextlib.contextmanager
def _activated(path: Path) -> Iterator[None]:
    """Make the environment this process's: its packages importable, its python for children."""
    bin_dir = path / "bin"
    site_packages = path / "lib" / f"python{python_tag()}" / "site-packages"
    saved_path = os.environ.get("PATH", "")
    saved_executable = sys.executable
    saved_sys_path = list(sys.path)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{saved_path}"
    # Beam's DirectRunner starts its workers with sys.executable: they must see the packages.
    sys.executable = str(bin_dir / "python")
    sys.path.insert(0, str(site_packages))
    site.addsitedir(str(site_packages))
    try:
        yield
    finally:
        os.environ["PATH"] = saved_path
        sys.executable = saved_executable
        sys.path[:] = saved_sys_path


def main(argv: list[str]) -> int:
    if not argv or not argv[0].startswith(CACHE_FLAG):
        print(USAGE, file=sys.stderr)
        return 2
    cache_dir = Path(argv.pop(0)[len(CACHE_FLAG) :])
    keep = DEFAULT_KEEP
    if argv and argv[0].startswith(KEEP_FLAG):
        keep = int(argv.pop(0)[len(KEEP_FLAG) :])
    venvception: Any = importlib.import_module("venvception")
    replacement = functools.partial(cached_venv, cache_dir=cache_dir, keep=keep)
    # Must precede the runner's import: its bake command binds `from venvception import venv`.
    venvception.venv = replacement
    cli = importlib.import_module("pangeo_forge_runner.cli")
    if getattr(sys.modules.get("pangeo_forge_runner.commands.bake"), "venv", None) is not (
        replacement
    ):
        print(RUNNER_CHANGED, file=sys.stderr)
        return 2
    sys.argv = ["pangeo-forge-runner", *argv]
    cli.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
