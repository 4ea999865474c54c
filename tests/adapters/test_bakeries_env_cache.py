"""The environment cache of the runner launcher (adapters/bakeries/cached_env_launcher.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.adapters.bakeries import cached_env_launcher as launcher
from pangeo_forge_orchestrator.adapters.bakeries.base import LAUNCHER


class CountingBuilder:
    """Builds a pretend environment (a bin/python file); counts and can slow its builds."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.builds: list[Path] = []
        self.delay = delay
        self.fail = fail

    def __call__(self, path: Path, requirements_file: Path) -> None:
        self.builds.append(path)
        (path / "bin").mkdir(parents=True)
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("pip install failed")
        (path / "bin" / "python").write_text(requirements_file.read_text())


def requirements(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_an_environment_is_built_once_per_requirements(tmp_path: Path):
    cache, build = tmp_path / "envs", CountingBuilder()
    reqs = requirements(tmp_path, "xarray==2024.7.0\n")

    first = launcher.ensure_environment(cache, reqs, build=build)
    again = launcher.ensure_environment(cache, reqs, build=build)
    other = launcher.ensure_environment(
        cache, requirements(tmp_path, "zarr\n", "other.txt"), build=build
    )

    assert first == again != other
    assert build.builds == [first, other]
    assert first.name == launcher.environment_key(b"xarray==2024.7.0\n", launcher.python_tag())
    assert (first / launcher.READY_MARKER).read_text() == "xarray==2024.7.0\n"


def test_the_key_covers_the_interpreter_and_the_exact_requirements():
    key = launcher.environment_key(b"zarr\n", "3.11")

    assert key != launcher.environment_key(b"zarr\n", "3.12")
    assert key != launcher.environment_key(b"zarr \n", "3.11")
    assert len(key) == 32


def test_a_build_that_died_halfway_is_built_again(tmp_path: Path):
    cache = tmp_path / "envs"
    reqs = requirements(tmp_path, "apache-beam\n")

    with pytest.raises(RuntimeError):
        launcher.ensure_environment(cache, reqs, build=CountingBuilder(fail=True))
    build = CountingBuilder()
    path = launcher.ensure_environment(cache, reqs, build=build)

    assert build.builds == [path]
    assert (path / "bin" / "python").read_text() == "apache-beam\n"


def test_concurrent_runs_share_one_build(tmp_path: Path):
    cache, build = tmp_path / "envs", CountingBuilder(delay=0.3)
    reqs = requirements(tmp_path, "pangeo-forge-recipes==0.10.8\n")
    paths: list[Path] = []

    def use() -> None:
        with launcher.using_environment(cache, reqs, build=build) as path:
            paths.append(path)

    threads = [threading.Thread(target=use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(build.builds) == 1
    assert paths == [build.builds[0]] * 3


def test_pruning_removes_the_least_recently_used_idle_environments(tmp_path: Path):
    cache, build = tmp_path / "envs", CountingBuilder()
    paths = []
    for i in range(4):
        paths.append(
            launcher.ensure_environment(cache, requirements(tmp_path, f"p{i}\n"), build=build)
        )
        os.utime(paths[-1] / launcher.READY_MARKER, (1000 + i, 1000 + i))

    # The oldest (p0) is in use by another run: it stays, p1 (next oldest) goes.
    with launcher.using_environment(cache, requirements(tmp_path, "p0\n"), build=build):
        os.utime(paths[0] / launcher.READY_MARKER, (1000, 1000))
        removed = launcher.prune_environments(cache, keep=2, protect=paths[3])

    assert removed == [paths[1]]
    assert not paths[1].exists()
    assert all(p.exists() for p in (paths[0], paths[2], paths[3]))


def test_cached_venv_activates_the_environment_and_restores_after(tmp_path: Path):
    cache, build = tmp_path / "envs", CountingBuilder()
    reqs = requirements(tmp_path, "zarr\n")
    before = (sys.executable, os.environ["PATH"], list(sys.path))

    with launcher.cached_venv(reqs, "ignored-env-id", cache_dir=cache, build=build) as path:
        site_packages = str(path / "lib" / f"python{launcher.python_tag()}" / "site-packages")
        assert sys.executable == str(path / "bin" / "python")
        assert os.environ["PATH"].startswith(f"{path / 'bin'}{os.pathsep}")
        assert sys.path[0] == site_packages

    assert (sys.executable, os.environ["PATH"], list(sys.path)) == before


def fake_runner_modules(root: Path, *, binds_venv: bool = True) -> Path:
    """A pretend pangeo-forge-runner whose bake command uses venvception.venv as 0.10.x does."""
    (root / "venvception").mkdir(parents=True)
    (root / "venvception" / "__init__.py").write_text(
        "def venv(requirements_file, env_id=None):\n    raise AssertionError('not replaced')\n"
    )
    commands = root / "pangeo_forge_runner" / "commands"
    commands.mkdir(parents=True)
    (root / "pangeo_forge_runner" / "__init__.py").write_text("")
    (commands / "__init__.py").write_text("")
    (commands / "bake.py").write_text(
        "from venvception import venv\n" if binds_venv else "venv = None\n"
    )
    (root / "pangeo_forge_runner" / "cli.py").write_text(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from .commands import bake\n"
        "def main():\n"
        "    with bake.venv(Path(sys.argv[-1])) as env:\n"
        "        said = {'argv': sys.argv, 'executable': sys.executable, 'env': str(env)}\n"
        "        print(json.dumps(said))\n"
    )
    return root


def test_the_launcher_hands_the_runner_a_real_cached_environment(tmp_path: Path):
    modules = fake_runner_modules(tmp_path / "modules")
    reqs = requirements(tmp_path, "# nothing to install\n")
    cache = tmp_path / "envs"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(modules)}
    argv = [sys.executable, str(LAUNCHER), f"--pfo-env-cache={cache}", "bake", "--json", str(reqs)]

    runs = [
        subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120) for _ in "ab"
    ]

    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
    said = [
        [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")] for r in runs
    ]
    building, using, handed = said[0][0], said[0][-2], said[0][-1]
    assert building["message"].startswith("Building the environment")
    assert using["message"].startswith("Using the cached environment")
    assert handed["argv"] == ["pangeo-forge-runner", "bake", "--json", str(reqs)]
    assert handed["executable"] == f"{handed['env']}/bin/python"
    assert Path(handed["executable"]).exists()
    # The second run reuses the environment without building.
    assert [m["message"].split()[0] for m in said[1][:-1]] == ["Using"]
    assert said[1][-1]["env"] == handed["env"]


def test_the_launcher_refuses_a_runner_that_no_longer_uses_venvception(tmp_path: Path):
    modules = fake_runner_modules(tmp_path / "modules", binds_venv=False)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(modules)}

    run = subprocess.run(
        [sys.executable, str(LAUNCHER), f"--pfo-env-cache={tmp_path}", "bake"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 2
    assert launcher.RUNNER_CHANGED in run.stderr


def test_the_launcher_wants_its_cache_flag_first():
    assert launcher.main(["bake", "--json"]) == 2
