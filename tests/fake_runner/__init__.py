"""The fake pangeo-forge-runner (a script beside this file) and a fixture that installs it."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("pangeo-forge-runner")

# What the service's own environment might hold; none of it may reach the runner.
SERVICE_ENVIRON = {
    "PFO_GITHUB_WEBHOOK_SECRET": "whsec-service-only",
    "PFO_GITHUB_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----service-only",
    "DATABASE_URL": "postgresql://service:only@db/pfo",
    "GOOGLE_APPLICATION_CREDENTIALS": "/etc/service-only.json",
    "AWS_SECRET_ACCESS_KEY": "aws-service-only",
    "AWS_ACCESS_KEY_ID": "AKIA-service-only",
    "PYTHONPATH": "/service/only",
    "PIP_INDEX_URL": "https://pip.example/simple",
    "LANG": "C.UTF-8",
}


@dataclass
class FakeRunner:
    path: Path

    @property
    def command(self) -> str:
        return str(self.path)

    @property
    def environ(self) -> dict[str, str]:
        """An environment as the service would pass it: PATH, HOME and the service's secrets."""
        return {"PATH": os.environ["PATH"], "HOME": str(self.path.parent), **SERVICE_ENVIRON}

    def calls(self) -> list[dict[str, Any]]:
        calls_file = self.path.with_name("calls.jsonl")
        if not calls_file.exists():
            return []
        return [json.loads(line) for line in calls_file.read_text().splitlines()]


def install_fake_runner(directory: Path) -> FakeRunner:
    """Copy the fake runner into directory/bin, its #! line naming this interpreter."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    body = SCRIPT.read_text().split("\n", 1)[1]
    target = bin_dir / "pangeo-forge-runner"
    target.write_text(f"#!{sys.executable}\n{body}")
    target.chmod(0o755)
    return FakeRunner(target)
