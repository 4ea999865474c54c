from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import pytest

from pangeo_forge_orchestrator.adapters.runner import (
    DROPPED_OUTPUT,
    MAX_LINE,
    Observed,
    RunnerError,
    RunnerResult,
    expand_meta,
    start_runner,
    write_config_file,
)
from pangeo_forge_orchestrator.core.runner_args import CHILD_ENV_ALLOWLIST
from pangeo_forge_orchestrator.core.runner_events import (
    Completed,
    Failed,
    LogLine,
    Running,
    Setup,
)
from tests.fake_runner import FakeRunner, install_fake_runner

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake_runner(tmp_path: Path) -> FakeRunner:
    return install_fake_runner(tmp_path)


CONFIG = {"TargetStorage": {"fsspec_args": {"token": "s3cr3t-token"}}, "Bake": {}}


def alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie awaiting its reaper is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().rsplit(")", 1)[1].split()[0] == "Z")


async def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def bake(
    runner: FakeRunner, recipe: str, *, timeout: float | None = 30, **options
) -> RunnerResult:
    config = write_config_file(CONFIG)
    argv = [runner.command, "bake", "--repo=/r", "--ref=abc", "--json"]
    argv += [f"--Bake.recipe_id={recipe}", "-f", str(config)]
    process = await start_runner(
        argv, env=runner.environ, timeout=timeout, config_file=config, **options
    )
    return await process.wait()


async def test_status_lines_become_events_and_the_config_file_is_private_then_gone(
    fake_runner: FakeRunner,
):
    result = await bake(fake_runner, "ok")

    assert result.returncode == 0
    assert result.status_events == [
        Setup("Target Storage is FSSpecTarget(...)"),
        Running("Parsing recipes..."),
        Running("Running job for recipe ok"),
    ]
    assert result.setup_seconds is not None
    assert 0 <= result.setup_seconds <= result.elapsed
    assert (result.timed_out, result.cancelled) == (False, False)
    (call,) = fake_runner.calls()
    assert call["config"] == CONFIG
    assert call["config_mode"] == "0o600"
    config_path = Path(call["argv"][call["argv"].index("-f") + 1])
    assert not config_path.exists()


async def test_noise_is_kept_as_log_text_and_never_taken_for_status(fake_runner: FakeRunner):
    seen: list[Observed] = []

    result = await bake(fake_runner, "noise", on_event=seen.append)

    assert result.returncode == 0
    assert result.status_events == [
        Setup("Target Storage is FSSpecTarget(...)"),
        Running("Running job for recipe noise"),
    ]
    log_lines = [o.event.text for o in seen if isinstance(o.event, LogLine)]
    assert "Collecting apache-beam (from -r requirements.txt (line 1))" in log_lines
    assert "WARNING: a line on stderr" in log_lines  # stderr is part of the one log
    assert "Worker: severity: INFO no status here" in log_lines
    assert "[1, 2, 3]" in log_lines
    assert '{"message": "Submitted job without an id", "status": "submitted"}' in log_lines
    assert "an unknown status" in log_lines
    # A 3 MiB line arrives in pieces of at most MAX_LINE characters.
    assert max(len(line) for line in log_lines) == MAX_LINE


async def test_a_crash_keeps_its_traceback(fake_runner: FakeRunner):
    result = await bake(fake_runner, "crash")

    assert result.returncode == 1
    failed = result.last(Failed)
    assert failed is not None
    assert failed.exc_info is not None
    assert failed.exc_info.rstrip().endswith("ValueError: boom")
    assert "Traceback (most recent call last)" in result.output


async def test_a_timeout_kills_the_whole_process_group(fake_runner: FakeRunner):
    started = time.monotonic()

    result = await bake(fake_runner, "hang", timeout=0.5)

    assert result.timed_out is True
    assert result.returncode is not None
    assert result.returncode < 0
    assert time.monotonic() - started < 10
    (call,) = fake_runner.calls()
    assert await gone(call["pid"])
    assert await gone(call["grandchild"]), "a grandchild of the runner outlived the timeout"


async def test_cancel_kills_the_whole_process_group(fake_runner: FakeRunner):
    set_up = asyncio.Event()
    config = write_config_file(CONFIG)
    argv = [fake_runner.command, "bake", "--Bake.recipe_id=hang", "-f", str(config)]
    process = await start_runner(
        argv,
        env=fake_runner.environ,
        timeout=60,
        config_file=config,
        on_event=lambda o: set_up.set() if isinstance(o.event, Setup) else None,
    )
    await asyncio.wait_for(set_up.wait(), 10)

    result = await process.cancel()

    assert (result.cancelled, result.timed_out) == (True, False)
    (call,) = fake_runner.calls()
    assert await gone(call["grandchild"])
    assert not config.exists()
    assert await process.wait() is result  # waiting again gives the same result


async def test_secrets_are_redacted_before_anything_keeps_them(fake_runner: FakeRunner):
    seen: list[Observed] = []

    def redact(text: str) -> str:
        return text.replace("s3cr3t-token", "***")

    result = await bake(fake_runner, "leak", redact=redact, on_event=seen.append)

    assert "s3cr3t-token" not in result.output
    assert "the token is ***" in result.output
    assert Running("the token is ***") in result.status_events
    assert all("s3cr3t-token" not in repr(o.event) for o in seen)


async def test_output_is_bounded_and_keeps_the_tail(fake_runner: FakeRunner):
    result = await bake(fake_runner, "flood", output_limit=10_000)

    dropped = result.output.splitlines()[0]
    assert dropped.startswith(DROPPED_OUTPUT.split("{", 1)[0])
    assert len(result.output) <= 10_000 + len(dropped) + 1
    assert result.output.rstrip().endswith('"status": "running"}')
    assert "line 19999 " in result.output
    assert "line 0 " not in result.output


async def test_a_runner_that_cannot_start_leaves_no_config_file(tmp_path: Path):
    config = write_config_file(CONFIG)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    with pytest.raises(FileNotFoundError):
        await start_runner(
            [str(tmp_path / "missing-runner"), "bake"],
            env={"PATH": ""},
            timeout=1,
            config_file=config,
        )

    assert not config.exists()


async def test_expand_meta_returns_the_meta_from_a_scrubbed_environment(fake_runner: FakeRunner):
    meta = await expand_meta(
        [fake_runner.command],
        repo_url="https://github.com/o/r-feedstock",
        ref="abc123",
        environ=fake_runner.environ,
    )

    assert meta == {"title": "fake", "recipes": [{"id": "ok"}]}
    (call,) = fake_runner.calls()
    assert call["argv"] == [
        "expand-meta",
        "--repo=https://github.com/o/r-feedstock",
        "--ref=abc123",
        "--json",
    ]
    # Python may add LC_CTYPE itself when it coerces the C locale.
    assert set(call["env"]) - {"LC_CTYPE"} == {"PATH", "HOME", "LANG"}
    assert set(call["env"]) <= set(CHILD_ENV_ALLOWLIST)


async def test_expand_meta_failure_carries_the_traceback(fake_runner: FakeRunner):
    with pytest.raises(RunnerError) as caught:
        await expand_meta(
            [fake_runner.command], repo_url="/repos/broken", ref="abc", environ=fake_runner.environ
        )

    assert caught.value.detail == "Traceback ...\nValueError: boom"
    assert caught.value.result.returncode == 1
    assert caught.value.result.last(Completed) is None
