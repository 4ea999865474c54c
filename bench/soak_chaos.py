"""The soak's child processes, and the SIGKILLs it deals them (bench/soak.py).

Each child runs in its own process group (its pid is the group id), so a kill or a stop reaches
everything it started and nothing else. Kills are placed on the traffic's progress (GUIDs
acknowledged) rather than on the clock, so they land while deliveries flow whatever the speed
of the machine; each waits a random moment before it strikes, then for its target to hold
work (the worker jobs, the web requests) for up to a few seconds: a killed worker's leases must
lapse and its jobs be claimed again, a killed web's requests die between commit and answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WEB = "web"
WORKER = "worker"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
STRIKE_JITTER_S = (0.0, 0.3)
RESTART_PAUSE_S = (0.2, 1.5)
# How long a kill waits for its target to hold work (jobs, requests) before striking anyway.
WAIT_FOR_WORK_S = 3.0
# Kills fall between these fractions of the deliveries acknowledged.
KILL_SPAN = (0.03, 0.85)


class Child:
    """One child process that may be started, killed and started again; a log file per start."""

    def __init__(
        self,
        *,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_dir: Path,
        ready: Callable[[Child], Awaitable[bool]],
    ) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_dir = log_dir
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.unexpected_exits: list[str] = []

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the whole process group; counts as one kill."""
        if self.process is None:
            return
        self.kills += 1
        self._signal_group(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; every process of the group goes."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT_S)
        # Also reaches any grandchild left behind by a leader that exited on SIGTERM.
        self._signal_group(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def note_unexpected_exit(self) -> bool:
        """Record an exit we did not cause; True if there was one."""
        if self.process is None or self.process.poll() is None:
            return False
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.unexpected_exits.append(f"exit {self.process.returncode} ({self.log_path}): {tail}")
        self.process = None
        return True

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited while starting; see {self.log_path}")
            if await self.ready(self):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in {READY_TIMEOUT_S:.0f} s; see {self.log_path}")

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        # ProcessLookupError: the group is already gone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)


@dataclass(frozen=True, slots=True)
class KillPoint:
    target: str
    at_acknowledged: int


@dataclass(slots=True, kw_only=True)
class Strike:
    """One SIGKILL as it happened."""

    target: str
    at_s: float
    acknowledged: int
    jobs_held: int | None = None
    requests_in_flight: int | None = None
    down_s: float = 0.0


def plan_kills(*, kills: int, deliveries: int, rng: random.Random) -> list[KillPoint]:
    """`kills` points, half on the web (the odd one too) and half on the worker, in order."""
    targets = [WEB] * ((kills + 1) // 2) + [WORKER] * (kills // 2)
    rng.shuffle(targets)
    low, high = KILL_SPAN
    places = sorted(round(rng.uniform(low, high) * deliveries) for _ in targets)
    return [KillPoint(target, place) for target, place in zip(targets, places, strict=True)]


@dataclass
class Chaos:
    """Deal the planned kills, restart after a pause, and restart any child that died alone."""

    children: dict[str, Child]
    plan: list[KillPoint]
    acknowledged: Callable[[], int]
    jobs_held_by: Callable[[int], Awaitable[int]]
    requests_in_flight: Callable[[], int]
    rng: random.Random
    started_at: float = field(default_factory=time.monotonic)
    strikes: list[Strike] = field(default_factory=list)
    _restarts: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def run(self) -> None:
        """Strike every planned kill, then wait for the restarts in flight."""
        for point in self.plan:
            while self.acknowledged() < point.at_acknowledged:
                await asyncio.sleep(0.02)
            await self._strike(point.target)
        await asyncio.gather(*self._restarts.values())

    async def guard(self) -> None:
        """Until cancelled: start again, and record, any child that exited without our kill."""
        while True:
            for child in self.children.values():
                if child.note_unexpected_exit():
                    child.start()
            await asyncio.sleep(0.1)

    async def _strike(self, target: str) -> None:
        child = self.children[target]
        # Each kill must hit a process that had come up and was doing its work.
        restarting = self._restarts.pop(target, None)
        if restarting is not None:
            await restarting
        await child.wait_ready()
        await asyncio.sleep(self.rng.uniform(*STRIKE_JITTER_S))
        strike = Strike(
            target=target,
            at_s=round(time.monotonic() - self.started_at, 2),
            acknowledged=self.acknowledged(),
        )
        if target == WORKER:
            assert child.pid is not None
            pid = child.pid
            strike.jobs_held = await _within(WAIT_FOR_WORK_S, lambda: self.jobs_held_by(pid))
        else:
            strike.requests_in_flight = await _within(WAIT_FOR_WORK_S, self._in_flight)
        killed_at = time.monotonic()
        child.kill()
        self.strikes.append(strike)
        self._restarts[target] = asyncio.create_task(self._restart(child, strike, killed_at))

    async def _in_flight(self) -> int:
        return self.requests_in_flight()

    async def _restart(self, child: Child, strike: Strike, killed_at: float) -> None:
        await asyncio.sleep(self.rng.uniform(*RESTART_PAUSE_S))
        child.start()
        await child.wait_ready()
        strike.down_s = round(time.monotonic() - killed_at, 2)


async def _within(seconds: float, count: Callable[[], Awaitable[int]]) -> int:
    """Poll `count` until it is positive or `seconds` pass; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = await count()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(0.01)


def strikes_as_dicts(strikes: list[Strike]) -> list[dict[str, Any]]:
    return [asdict(strike) for strike in strikes]
