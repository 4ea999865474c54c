"""Run `pfo migrate` then `pfo serve --sandbox` as a child process, for the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

READY_TIMEOUT_SECONDS = 90.0


class ServiceProcess:
    """The service in sandbox mode on 127.0.0.1:PORT, its output in LOG_PATH."""

    def __init__(self, *, port: int, data_dir: Path, log_path: Path) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.environ = {
            **os.environ,
            "PFO_DATA_DIR": str(data_dir.absolute()),
            "PFO_LOG_FORMAT": "json",
            "PFO_PUBLIC_URL": self.base_url,
        }
        self._process: subprocess.Popen[bytes] | None = None

    def _pfo(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pangeo_forge_orchestrator", *args]

    def migrate(self) -> str:
        """Apply the migrations; the last line pfo printed (the revision), or RuntimeError."""
        done = subprocess.run(  # noqa: S603 -- our own interpreter and module
            self._pfo("migrate"), env=self.environ, capture_output=True, text=True, check=False
        )
        with self.log_path.open("a") as log:
            log.write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"pfo migrate failed (exit {done.returncode}): {done.stderr[-500:]}")
        return (done.stdout.strip().splitlines() or [""])[-1]

    def start(self) -> None:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
            self._pfo("serve", "--sandbox", "--host", "127.0.0.1", "--port", str(self.port)),
            env=self.environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the service exited with {self._process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the service was not ready in {READY_TIMEOUT_SECONDS:.0f} s")

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, as Heroku stops a dyno; SIGKILL if it does not exit within TIMEOUT."""
        if self._process is None or self._process.poll() is not None:
            return None if self._process is None else self._process.returncode
        self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()
