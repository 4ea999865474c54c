"""Procfile, app.json and docker-compose.yml name only commands and options the CLI has."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import typer.core
import typer.main
import yaml

from pangeo_forge_orchestrator.cli import app
from pangeo_forge_orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def parse_with_cli(command_line: str) -> None:
    """Fail unless `pfo ...` resolves to a real (sub)command and its options parse."""
    words = shlex.split(command_line.replace("$PORT", "5000"))
    assert words[0] == "pfo", f"not a pfo command: {command_line!r}"
    command = typer.main.get_command(app)
    args = words[1:]
    # typer ships its own copy of click, so groups are recognised by what they hold.
    while isinstance(command, typer.core.TyperGroup):
        assert args, f"{command_line!r} names a group, not a command"
        name, args = args[0], args[1:]
        assert name in command.commands, f"{command_line!r}: no command {name!r}"
        command = command.commands[name]
    try:
        command.make_context(words[0], list(args))
    except Exception as error:  # typer's click raises its own UsageError family
        raise AssertionError(f"{command_line!r}: {error}") from error


def procfile_commands() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_procfile_has_release_web_and_worker() -> None:
    processes = procfile_commands()

    assert processes == {
        "release": "pfo migrate",
        "web": "pfo serve --no-worker --host 0.0.0.0 --port $PORT",
        "worker": "pfo worker",
    }
    for command_line in processes.values():
        parse_with_cli(command_line)


def test_app_json_scripts_and_env_match_settings() -> None:
    manifest = json.loads((ROOT / "app.json").read_text())

    parse_with_cli(manifest["scripts"]["postdeploy"])
    assert any(a["plan"].startswith("heroku-postgresql") for a in manifest["addons"])
    documented = set(manifest["env"])
    known = {f"PFO_{name.upper()}" for name in Settings.model_fields if name != "database_url"}
    assert documented <= known, f"app.json documents unknown variables: {documented - known}"
    assert all(manifest["env"][name].get("description") for name in documented)


def test_docker_compose_commands_exist_and_have_healthchecks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    for name in ("web", "worker", "migrate"):
        parse_with_cli(shlex.join(services[name]["command"]))
    assert "healthcheck" in services["postgres"]
    assert "healthcheck" in services["web"]


@pytest.mark.parametrize("command_line", ["pfo serve --bogus", "pfo nonexistent", "pfo api-keys"])
def test_the_check_rejects_what_the_cli_lacks(command_line: str) -> None:
    with pytest.raises(AssertionError):
        parse_with_cli(command_line)
