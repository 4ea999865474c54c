"""The server under test: `pfo serve --no-worker` as a child process, pinned, stopped by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx

from bench import loadgen


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    url: str, *, port: int, log_path: Path, cpu: int | None
) -> subprocess.Popen[bytes]:
    """`pfo serve --no-worker` on the bench database: one process, one uvicorn worker."""
    env = {**os.environ, "DATABASE_URL": url, "PFO_LOG_FORMAT": "json"}
    pfo = Path(sys.executable).with_name("pfo")
    command = [str(pfo)] if pfo.exists() else [sys.executable, "-m", "pangeo_forge_orchestrator"]
    command += ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            loadgen.pinned(command, cpu), env=env, stdout=log, stderr=subprocess.STDOUT
        )


def wait_ready(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(base_url + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready in 60 s:\n{log_path.read_text()[-4000:]}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
