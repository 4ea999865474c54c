"""Webhook ingest on loopback (issue 3): signed ~28 KB pull_request deliveries to `pfo serve`.

`uv run python -m bench.ingest` does it all in one run: a fresh database on an embedded Postgres,
`pfo serve` (with its worker inside unless --no-worker; with --worker-process the worker runs as
its own `pfo worker`, as the Procfile deploys it; the payload's repository is not a feedstock,
so each delivery is screened out and marked ignored from its stored columns: a near no-op
job), then
- open-loop load at 50/s and 300/s (latency measured from each request's scheduled send time,
  so a stalled server cannot hide queueing delay);
- saturation with wrk at 32 connections (each request a new delivery GUID);
- the time for the worker to drain the backlog once the load stops;
- the write path without HTTP: the request's own group-commit writer fed by 32 tasks (the
  ceiling the ratio uses), and one delivery per transaction from 32 threads and from 1;
and prints the numbers against the targets, writing them to bench/results/ingest-<ts>.json.
The machine is shared: read `cpu_percent_of_one_core.other` before trusting a number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

from bench import loadgen, machine
from bench.server import free_port, stop_server, wait_ready
from pangeo_forge_orchestrator.db import migrate
from pangeo_forge_orchestrator.db.embedded import EmbeddedPostgres
from pangeo_forge_orchestrator.db.engine import Database, make_engine
from pangeo_forge_orchestrator.webhooks.inbox import InboundDelivery, store_delivery
from pangeo_forge_orchestrator.webhooks.signature import signature_for
from pangeo_forge_orchestrator.webhooks.writer import DeliveryWriter

REPO_ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = REPO_ROOT.parent / "shared/github/webhooks/examples/pull_request/opened.payload.json"
DATABASE = "pfo_ingest_bench"
SECRET = "bench-webhook-secret"
HOOKS = "/github/hooks/"
TARGETS = {
    "saturation_per_s": 1000.0,
    "saturation_p99_ms": 50.0,
    "p99_at_50_ms": 10.0,
    "ratio_to_ceiling": 0.35,
}

WRK_SCRIPT = """
local body, signature, prefix = %(body)s, %(signature)s, %(prefix)s
local counter, id = 0, 0
local threads = {}
setup = function(thread)
  id = id + 1
  thread:set("tid", id)
  table.insert(threads, thread)
end
request = function()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Delivery"] = prefix .. tid .. "-" .. counter,
    ["X-Hub-Signature-256"] = signature,
  }
  return wrk.format("POST", "%(path)s", headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(result)s{"requests":%%d,"duration_us":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"p50":%%d,"p90":%%d,"p99":%%d,"p99.9":%%d,"max":%%d}}\\n',
    summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"""


def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def prepare_database(pg: EmbeddedPostgres) -> str:
    admin = make_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    url = pg.url(DATABASE)
    migrate.upgrade(url)
    return url


def service_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "PFO_LOG_FORMAT": "json",
        "PFO_GITHUB_APP_ID": "1",
        "PFO_GITHUB_APP_PRIVATE_KEY": private_key_pem(),
        "PFO_GITHUB_WEBHOOK_SECRET": SECRET,
        # Nothing here may reach GitHub: periodic jobs that try fail fast on a closed port.
        "PFO_GITHUB_API_URL": "http://127.0.0.1:9",
    }


def pfo_command(*args: str) -> list[str]:
    pfo = Path(sys.executable).with_name("pfo")
    command = [str(pfo)] if pfo.exists() else [sys.executable, "-m", "pangeo_forge_orchestrator"]
    return command + list(args)


def start_server(
    url: str, *, port: int, worker: bool, log_path: Path, cpu: int | None
) -> subprocess.Popen[bytes]:
    command = pfo_command("serve", "--host", "127.0.0.1", "--port", str(port))
    if not worker:
        command.append("--no-worker")
    with log_path.open("wb") as log:
        return subprocess.Popen(
            loadgen.pinned(command, cpu), env=service_env(url), stdout=log, stderr=subprocess.STDOUT
        )


def start_worker(url: str, *, log_path: Path) -> subprocess.Popen[bytes]:
    """`pfo worker` as its own process: the Procfile's layout (web and worker apart)."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            pfo_command("worker"), env=service_env(url), stdout=log, stderr=subprocess.STDOUT
        )


def process_cpu_seconds(process: subprocess.Popen[bytes] | None) -> float:
    if process is None or process.poll() is not None:
        return 0.0
    times = psutil.Process(process.pid).cpu_times()
    return float(times.user + times.system)


def headers_for(guid: str, signature: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": guid,
        "X-Hub-Signature-256": signature,
    }


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    """One request on a keep-alive connection; the response status."""
    writer.write(head + body)
    status_line = await reader.readuntil(b"\r\n")
    headers = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


def _request_head(port: int, guid: str, signature: str, length: int) -> bytes:
    return (
        f"POST {HOOKS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nX-GitHub-Event: pull_request\r\n"
        f"X-GitHub-Delivery: {guid}\r\nX-Hub-Signature-256: {signature}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def open_loop(
    port: int, body: bytes, *, rate: float, duration_s: float, label: str, connections: int = 32
) -> dict[str, Any]:
    """Send at a fixed rate whatever the answers; latency counts from the scheduled send.

    A small HTTP/1.1 client on raw keep-alive connections: a general client (httpx) spends
    more CPU per request than the server at these rates and would measure itself.
    """
    signature = signature_for(body, SECRET.encode())
    total = int(rate * duration_s)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await due.get()) is not None:
                index, scheduled = item
                head = _request_head(port, f"{label}-{index}", signature, len(body))
                status = await _post(reader, writer, head, body)
                latencies.append((time.perf_counter() - scheduled) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.perf_counter() + 0.1
    for index in range(total):
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        due.put_nowait((index, scheduled))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "offered_per_s": rate,
        "requests": total,
        "achieved_per_s": round(total / elapsed, 1),
        "statuses": statuses,
        "latency_ms": {
            f"p{p}": round(loadgen.percentile(latencies, p), 2) for p in (50, 90, 99, 99.9)
        }
        | {"max": round(latencies[-1], 2)},
    }


def saturate(
    base_url: str, body: bytes, *, connections: int, duration_s: float, workdir: Path
) -> dict[str, Any]:
    wrk = loadgen.wrk_path()
    if wrk is None:
        raise SystemExit(loadgen.WRK_INSTALL_HINT)
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    script = workdir / "ingest.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "body": f'io.open("{body_file}", "rb"):read("*a")',
            "signature": json.dumps(signature_for(body, SECRET.encode())),
            "prefix": json.dumps(f"sat-{uuid.uuid4().hex[:8]}-"),
            "path": HOOKS,
            "result": loadgen.RESULT_PREFIX,
        }
    )
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url + HOOKS,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        if line.startswith(loadgen.RESULT_PREFIX):
            parsed = json.loads(line[len(loadgen.RESULT_PREFIX) :])
            break
    else:
        raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    seconds = parsed["duration_us"] / 1e6
    return {
        "connections": connections,
        "requests": parsed["requests"],
        "per_s": round(parsed["requests"] / seconds, 1),
        "errors": parsed["errors"],
        "latency_ms": {k: round(v / 1000, 2) for k, v in parsed["latency_us"].items()},
    }


def backlog(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM job"
                    " WHERE kind = 'handle_delivery' AND status IN ('queued', 'running')"
                )
            ).scalar_one()
        )


def drain_seconds(engine: sa.Engine, *, limit_s: float = 60) -> dict[str, Any]:
    start = time.perf_counter()
    left = backlog(engine)
    at_stop = left
    while left and time.perf_counter() - start < limit_s:
        time.sleep(0.05)
        left = backlog(engine)
    return {
        "backlog_at_stop": at_stop,
        "seconds": round(time.perf_counter() - start, 2),
        "left": left,
    }


def _inbound(guid: str, text: str) -> InboundDelivery:
    return InboundDelivery(
        guid=guid,
        event="pull_request",
        action="opened",
        installation_id=None,
        repository="Codertocat/Hello-World",
        payload_json=text,
    )


def ceiling(url: str, body: bytes, *, threads: int, duration_s: float) -> dict[str, Any]:
    """One delivery per transaction (store_delivery), from threads, without HTTP."""
    database = Database.from_url(url, pool_size=threads, max_overflow=0)
    text = body.decode()
    counts = [0] * threads
    stop = threading.Event()
    run = uuid.uuid4().hex[:8]

    def work(slot: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            store_delivery(database, _inbound(f"ceiling-{run}-{slot}-{n}", text))
            counts[slot] = n

    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        futures = [pool.submit(work, slot) for slot in range(threads)]
        time.sleep(duration_s)
        stop.set()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - start
    database.dispose()
    return {
        "threads": threads,
        "transactions": sum(counts),
        "per_s": round(sum(counts) / elapsed, 1),
    }


def ceiling_group_commit(
    url: str, body: bytes, *, submitters: int, duration_s: float
) -> dict[str, Any]:
    """The request path's own writer (group commit), fed by `submitters` tasks, without HTTP."""
    text = body.decode()
    run = uuid.uuid4().hex[:8]

    async def drive() -> tuple[int, float]:
        database = Database.from_url(url)
        writer = DeliveryWriter(database)
        stop_at = time.perf_counter() + duration_s
        counts = [0] * submitters

        async def submit(slot: int) -> None:
            while time.perf_counter() < stop_at:
                counts[slot] += 1
                await writer.store(_inbound(f"gc-{run}-{slot}-{counts[slot]}", text))

        start = time.perf_counter()
        await asyncio.gather(*(submit(slot) for slot in range(submitters)))
        elapsed = time.perf_counter() - start
        writer.close()
        database.dispose()
        return sum(counts), elapsed

    total, elapsed = asyncio.run(drive())
    return {"submitters": submitters, "deliveries": total, "per_s": round(total / elapsed, 1)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=32)
    workers = parser.add_mutually_exclusive_group()
    workers.add_argument("--no-worker", action="store_true", help="serve without the worker")
    workers.add_argument(
        "--worker-process",
        action="store_true",
        help="run the worker as its own `pfo worker` process (web with --no-worker), as deployed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    body = PAYLOAD.read_bytes()
    workdir = Path(tempfile.mkdtemp(prefix="pfo-ingest-"))
    pg = EmbeddedPostgres(workdir / "pgdata")
    server = worker = None
    worker_mode = "none" if args.no_worker else "process" if args.worker_process else "in-process"
    results: dict[str, Any] = {
        "machine": machine.describe(),
        "payload_bytes": len(body),
        "worker": worker_mode,
        "wrk": loadgen.wrk_version(),
    }
    try:
        url = prepare_database(pg)
        engine = make_engine(url)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = workdir / "server.log"
        server = start_server(
            url, port=port, worker=worker_mode == "in-process", log_path=log_path, cpu=None
        )
        wait_ready(base_url, server, log_path)
        if worker_mode == "process":
            worker = start_worker(url, log_path=workdir / "worker.log")
        print(f"server up on {base_url}; payload {len(body):,} bytes", flush=True)
        asyncio.run(open_loop(port, body, rate=200, duration_s=2, label="warmup"))
        drain_seconds(engine)

        for rate in (50, 300):
            print(f"open loop at {rate}/s for {args.duration:.0f} s", flush=True)
            results[f"open_{rate}"] = asyncio.run(
                open_loop(
                    port,
                    body,
                    rate=rate,
                    duration_s=args.duration,
                    label=f"o{rate}-{uuid.uuid4().hex[:6]}",
                )
            )
            print(json.dumps(results[f"open_{rate}"]), flush=True)
            drain_seconds(engine)

        print(f"saturation: wrk, {args.connections} connections", flush=True)
        pids = {"server": server.pid, "postgres": machine.postmaster_pid(pg.pgdata)}
        before = machine.snapshot(
            wall=time.perf_counter(), server_pid=pids["server"], postmaster_pid=pids["postgres"]
        )
        worker_before = process_cpu_seconds(worker)
        results["saturation"] = saturate(
            base_url,
            body,
            connections=args.connections,
            duration_s=args.duration,
            workdir=workdir,
        )
        after = machine.snapshot(
            wall=time.perf_counter(), server_pid=pids["server"], postmaster_pid=pids["postgres"]
        )
        shares = machine.cpu_shares(before, after)
        if worker is not None:
            # A running child is not in `loadgen` (finished children only): take it out of other.
            share = round(
                100 * (process_cpu_seconds(worker) - worker_before) / (after.wall - before.wall), 1
            )
            shares["worker_process"] = share
            shares["other"] = max(0.0, round(shares.get("other", 0.0) - share, 1))
        results["saturation"]["cpu_percent_of_one_core"] = shares
        print(json.dumps(results["saturation"]), flush=True)
        if worker_mode != "none":
            results["drain_after_saturation"] = drain_seconds(engine)
            print(json.dumps(results["drain_after_saturation"]), flush=True)
        for process in (server, worker):
            if process is not None:
                stop_server(process)
        server = worker = None

        print("ceilings without HTTP", flush=True)
        results["ceiling_group_commit"] = ceiling_group_commit(
            url, body, submitters=args.connections, duration_s=args.duration
        )
        results["ceiling_per_transaction"] = ceiling(
            url, body, threads=args.connections, duration_s=args.duration
        )
        results["ceiling_per_transaction_1_thread"] = ceiling(
            url, body, threads=1, duration_s=args.duration / 2
        )
        for key in (
            "ceiling_group_commit",
            "ceiling_per_transaction",
            "ceiling_per_transaction_1_thread",
        ):
            print(key, json.dumps(results[key]), flush=True)
        saturation = results["saturation"]["per_s"]
        results["ratio_to_ceiling"] = round(
            saturation / results["ceiling_group_commit"]["per_s"], 3
        )
        results["ratio_to_per_transaction_ceiling"] = round(
            saturation / results["ceiling_per_transaction"]["per_s"], 3
        )
        engine.dispose()
    finally:
        for process in (server, worker):
            if process is not None:
                stop_server(process)
        pg.release()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results["checks"] = checks(results)
    report(results)
    out = REPO_ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"raw numbers: {path}")


def checks(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    measured = {
        "saturation_per_s": results["saturation"]["per_s"],
        "saturation_p99_ms": results["saturation"]["latency_ms"]["p99"],
        "p99_at_50_ms": results["open_50"]["latency_ms"]["p99"],
        "ratio_to_ceiling": results["ratio_to_ceiling"],
    }
    at_most = {"saturation_p99_ms", "p99_at_50_ms"}
    return {
        name: {
            "measured": value,
            "target": TARGETS[name],
            "met": value <= TARGETS[name] if name in at_most else value >= TARGETS[name],
        }
        for name, value in measured.items()
    }


def report(results: dict[str, Any]) -> None:
    print("\n| measure | value | target | met |\n|---|---|---|---|")
    for name, check in results["checks"].items():
        print(f"| {name} | {check['measured']} | {check['target']} | {check['met']} |")
    for key in ("open_50", "open_300"):
        lat = results[key]["latency_ms"]
        print(
            f"| {key} achieved/s, p50, p99 (ms) | {results[key]['achieved_per_s']}, "
            f"{lat['p50']}, {lat['p99']} | | |"
        )


if __name__ == "__main__":
    main()
