"""`pfo demo` from start to end: the best end-to-end test there is (issue 6).

The demo runs as a person would run it, in a child process on a free port, with the runner of
.tools/runner. Its bake environment is the one the other slow tests build (.tools/runner-envs,
linked in), so CI builds it once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slow.feedstock import ENV_CACHE, RUNNER, RUNNER_MISSING

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

STEPS = (
    "Start the service in sandbox mode",
    "dana proposes a recipe to pangeo-forge/staged-recipes",
    "otto, who may not run code here, comments `/run tiny`",
    "max, a maintainer, comments `/run tiny`: a real test bake",
    "The service reports the result on the pull request",
    "max merges: the service creates pangeo-forge/tiny-1-feedstock",
    "The feedstock's production run bakes and deploys the dataset",
    "The dataset is listed by the public API",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_demo(data_dir: Path, *, port: int) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "PFO_DATA_DIR": str(data_dir),
        "PFO_RUNNER_COMMAND": str(RUNNER),
    }
    return subprocess.run(
        [sys.executable, "-m", "pangeo_forge_orchestrator", "demo", "--port", str(port)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=1400,
        check=False,
    )


def test_the_demo_tells_the_whole_story_and_passes(tmp_path: Path):
    if not RUNNER.exists():
        pytest.skip(RUNNER_MISSING)
    ENV_CACHE.mkdir(parents=True, exist_ok=True)
    (tmp_path / "runner-envs").symlink_to(ENV_CACHE)

    done = run_demo(tmp_path, port=free_port())

    print(done.stdout)  # the transcript, for the CI log
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    transcript = done.stdout
    for number, title in enumerate(STEPS, start=1):
        assert f"{number:>2}. {title}" in transcript
    assert transcript.count("   ✓ done in") == len(STEPS)
    assert "✗" not in transcript
    assert "The whole story passed" in transcript
    # What a reader is promised: the refusal, the reactions, the snippet, the dataset.
    assert "Running recipe code needs write access" in transcript
    assert "reactions on the comment: eyes, rocket" in transcript
    assert 'xr.open_dataset("file://' in transcript
    assert "tiny-1-feedstock/tiny.zarr" in transcript
    # The production dataset, opened with xarray by the demo: the shape and values written.
    assert "dimensions lat=4, lon=5, time=2; variables temperature" in transcript
    assert "daily means: [0.0, 1.0]" in transcript
    # The data stays for `make run`: the simulator's state and the repositories.
    assert (tmp_path / "sandbox" / "state.json").is_file()
    assert (tmp_path / "sandbox" / "git" / "pangeo-forge" / "tiny-1-feedstock.git").is_dir()


def test_a_second_demo_on_the_same_data_picks_the_next_name(tmp_path: Path):
    """Run twice on one PFO_DATA_DIR: the second proposes tiny-2 and passes too."""
    if not RUNNER.exists():
        pytest.skip(RUNNER_MISSING)
    ENV_CACHE.mkdir(parents=True, exist_ok=True)
    (tmp_path / "runner-envs").symlink_to(ENV_CACHE)
    first = run_demo(tmp_path, port=free_port())
    assert first.returncode == 0, first.stdout[-3000:]

    second = run_demo(tmp_path, port=free_port())

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "creates pangeo-forge/tiny-2-feedstock" in second.stdout
