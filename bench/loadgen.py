"""HTTP load: wrk when installed, else a small asyncio/httpx generator with the same output.

Both run as a child process (so they can be pinned with taskset and their CPU time read from
RUSAGE_CHILDREN) and end by printing one `BENCH_JSON {...}` line: requests, duration, errors
and latency percentiles in microseconds.

`python -m bench.loadgen URL PATHS_FILE --duration S --connections N` is the fallback.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRK_INSTALL_HINT = (
    "wrk is not installed: `apt-get update && apt-get install -y wrk` (Debian/Ubuntu) or "
    "`brew install wrk`; falling back to the slower Python generator, whose own CPU cost "
    "caps the request rate it can drive."
)
RESULT_PREFIX = "BENCH_JSON "
PERCENTILES = (50, 75, 90, 99, 99.9)

# Paths are picked at random per request when there are several (e.g. random recipe-run ids).
WRK_SCRIPT = """
local paths = {%(paths)s}
init = function(args)
  math.randomseed(42)
end
%(request)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(prefix)s{"requests":%%d,"duration_us":%%d,"bytes":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"min":%%d,"mean":%%.1f,"max":%%d,' ..
    '"p50":%%d,"p75":%%d,"p90":%%d,"p99":%%d,"p99.9":%%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""
WRK_RANDOM_REQUEST = """
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""

# Every request a new URL (`cold=<run>-<n>` appended, a parameter the API ignores), so none is
# answered from the API's answer cache; <run> differs between runs (warm-up, measured window).
WRK_COLD_REQUEST = """
local sent = 0
request = function()
  sent = sent + 1
  local path = paths[math.random(#paths)]
  local sep = string.find(path, "?", 1, true) and "&" or "?"
  return wrk.format("GET", path .. sep .. "cold=RUN-" .. sent)
end
"""


def cold_path(path: str, run: str, n: int) -> str:
    """`path` made unique for request `n` of `run`, as the Lua script does."""
    return f"{path}{'&' if '?' in path else '?'}cold={run}-{n}"


@dataclass
class LoadResult:
    """One load run: what was sent, what came back, how fast."""

    generator: str
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    raw: str = field(repr=False, default="")

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(self.requests_per_s, 1),
            "errors": self.errors,
            "latency_ms": self.latency_ms,
            "raw": self.raw,
        }


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    wrk = wrk_path()
    if wrk is None:
        return "absent"
    # `wrk -v` prints its banner and exits non-zero.
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "wrk"


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """Prefix `taskset -c CPU` when there is such a CPU and taskset exists."""
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def _lua_string(path: str) -> str:
    return json.dumps(path)  # a JSON string literal is a valid Lua string literal for URL paths


def run(
    base_url: str,
    paths: list[str],
    *,
    duration_s: float,
    connections: int,
    cpu: int | None,
    workdir: Path,
    cold: bool = False,
) -> LoadResult:
    """Drive GET requests on `paths` for `duration_s` at `connections` concurrent connections.

    `cold`: every request gets a URL of its own, so the API computes every answer.
    """
    wrk = wrk_path()
    if wrk is not None:
        script = workdir / "bench.lua"
        script.write_text(
            WRK_SCRIPT
            % {
                "paths": ",".join(_lua_string(p) for p in paths),
                "request": WRK_COLD_REQUEST.replace("RUN", str(time.time_ns()))
                if cold
                else WRK_RANDOM_REQUEST
                if len(paths) > 1
                else "",
                "prefix": RESULT_PREFIX,
            }
        )
        command = [
            wrk,
            "--latency",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base_url + paths[0],
        ]
        generator = "wrk"
    else:
        paths_file = workdir / "paths.json"
        paths_file.write_text(json.dumps(paths))
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            base_url,
            str(paths_file),
            "--duration",
            str(duration_s),
            "--connections",
            str(connections),
            *(["--cold"] if cold else []),
        ]
        generator = "python-httpx"
    out = subprocess.run(pinned(command, cpu), capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            parsed = json.loads(line[len(RESULT_PREFIX) :])
            break
    else:
        raise RuntimeError(f"{generator} gave no result:\n{out.stdout}\n{out.stderr}")
    latency = {key: value / 1000 for key, value in parsed["latency_us"].items()}
    return LoadResult(
        generator=generator,
        requests=int(parsed["requests"]),
        duration_s=parsed["duration_us"] / 1e6,
        errors={key: int(value) for key, value in parsed["errors"].items()},
        latency_ms=latency,
        raw=out.stdout,
    )


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


async def _python_generator(
    base_url: str, paths: list[str], *, duration_s: float, connections: int, cold: bool = False
) -> dict[str, Any]:
    import random

    import httpx

    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    received = 0
    rng = random.Random(42)
    numbers = itertools.count(1)
    run = str(time.time_ns())
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
        started = time.perf_counter()
        deadline = started + duration_s

        async def worker() -> None:
            nonlocal received
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                path = rng.choice(paths)
                if cold:
                    path = cold_path(path, run, next(numbers))
                try:
                    response = await client.get(path)
                except httpx.TimeoutException:
                    errors["timeout"] += 1
                    continue
                except httpx.HTTPError:
                    errors["read"] += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                received += len(response.content)
                if response.status_code >= 400:
                    errors["status"] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    micro = [value * 1e6 for value in latencies]
    summary = {f"p{p:g}": percentile(micro, p) for p in PERCENTILES}
    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "bytes": received,
        "errors": errors,
        "latency_us": {
            "min": micro[0] if micro else 0,
            "mean": sum(micro) / len(micro) if micro else 0,
            "max": micro[-1] if micro else 0,
            **summary,
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fallback HTTP load generator (no wrk).")
    parser.add_argument("base_url")
    parser.add_argument("paths_file", type=Path)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--cold", action="store_true", help="a URL of its own for each request")
    args = parser.parse_args(argv)
    paths = json.loads(args.paths_file.read_text())
    result = asyncio.run(
        _python_generator(
            args.base_url,
            paths,
            duration_s=args.duration,
            connections=args.connections,
            cold=args.cold,
        )
    )
    print(RESULT_PREFIX + json.dumps(result))


if __name__ == "__main__":
    main()
