"""Sandbox mode: the service wired to an in-process GitHub simulator, with no credentials.

`pfo serve` turns it on when no GitHub App is configured and it listens on a loopback address
(a deployment never starts a simulator by accident). Everything lives under
`PFO_DATA_DIR/sandbox/`: the App key and secrets made on first start (kept, so a restart keeps
working with the same database), the simulator's state and its git repositories.

The first start creates the organisation's installation and `pangeo-forge/staged-recipes`, with
three people to act as: `dana` (a contributor), `max` (a maintainer: admin of the repositories)
and `otto` (anyone else: may comment, may not run recipes).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from starlette.applications import Starlette

from pangeo_forge_orchestrator.sandbox import objects, webhook_payloads
from pangeo_forge_orchestrator.sandbox.hooks import WebhookSender
from pangeo_forge_orchestrator.sandbox.routes.app import installation_json
from pangeo_forge_orchestrator.sandbox.routes.repos import create_repo
from pangeo_forge_orchestrator.sandbox.simulator import Receive, Scope, Send, Simulator
from pangeo_forge_orchestrator.sandbox.state import Installation
from pangeo_forge_orchestrator.settings import Settings

APP_ID = 1
INSTALLATION_ID = 1
ORG = "pangeo-forge"
STAGED_RECIPES = "staged-recipes"
CONTRIBUTOR, MAINTAINER, OUTSIDER = "dana", "max", "otto"
API_PREFIX = "/sandbox/github"
WEB_PREFIX = "/sandbox/web"
# Stands in for pangeo-forge.org's dashboard: its recipe-run links lead to this service's API.
DASHBOARD_PREFIX = "/sandbox/dashboard"
STAGED_README = """\
# staged-recipes

Propose a new dataset here: open a pull request adding `recipes/<name>/meta.yaml` and
`recipes/<name>/recipe.py`. Once it is merged, Pangeo Forge creates `<name>-feedstock`.
"""


@dataclass(frozen=True)
class SandboxSecrets:
    private_key_pem: str
    webhook_secret: str
    callback_secret: str


def wanted(settings: Settings, *, host: str, requested: bool | None) -> bool:
    """Whether `pfo serve` runs the sandbox: as asked, else when no App is set and on loopback."""
    if requested is not None:
        return requested
    if settings.github_app_configured:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def sandbox_dir(settings: Settings) -> Path:
    return (settings.data_dir / "sandbox").absolute()


def load_or_make_secrets(root: Path) -> SandboxSecrets:
    """The sandbox App's key and secrets, made once and kept (0600) under ROOT."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "app-secrets.json"
    if path.exists():
        return SandboxSecrets(**json.loads(path.read_text()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    made = SandboxSecrets(
        private_key_pem=pem,
        webhook_secret=secrets.token_hex(20),
        callback_secret=secrets.token_hex(20),
    )
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(made.__dict__, out)
    os.replace(temporary, path)
    return made


@dataclass
class Sandbox:
    """A running simulator, its webhook sender and the settings that point the service at it."""

    simulator: Simulator
    sender: WebhookSender
    settings: Settings
    base_url: str

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    def banner(self) -> str:
        return SANDBOX_BANNER.format(
            api=self.api_url,
            web=self.base_url + WEB_PREFIX + f"/{ORG}/{STAGED_RECIPES}",
            root=self.simulator.root,
            docs=self.base_url + "/docs",
        )

    def mount(self, app: Starlette) -> None:
        """Serve the simulator's API and its web pages beside the service's routes."""
        from pangeo_forge_orchestrator.sandbox.web import WebPages

        app.mount(API_PREFIX, self.simulator)
        app.mount(WEB_PREFIX, WebPages(self.simulator))
        app.mount(DASHBOARD_PREFIX, dashboard_redirects)

    def start(self) -> None:
        self.sender.start()

    def stop(self) -> None:
        self.sender.stop()
        self.simulator.save()


SANDBOX_BANNER = """\
Sandbox mode: no GitHub App is configured, so a simulated GitHub runs in this process.
  GitHub API (simulated)  {api}
  staged-recipes          {web}
  git repositories        {root}/git
  this service's API      {docs}
Act on it from another terminal: `uv run pfo sandbox --help` (open a pull request, comment
`/run`, merge), or stop this server and watch the whole story: `uv run pfo demo`."""


def start_sandbox(settings: Settings, *, host: str, port: int) -> Sandbox:
    """Build the simulator for a service at HOST:PORT and the settings pointing at it."""
    root = sandbox_dir(settings)
    made = load_or_make_secrets(root)
    # A wildcard bind is reached through loopback; the service calls itself at this address.
    local = "127.0.0.1" if host in ("0.0.0.0", "localhost", "::") else host  # noqa: S104
    base_url = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    urls = objects.Urls(api=base_url + API_PREFIX, web=base_url + WEB_PREFIX)
    key = serialization.load_pem_private_key(made.private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    simulator = Simulator(
        root=root,
        urls=urls,
        app_id=APP_ID,
        app_slug=settings.github_app_name,
        public_key=key.public_key(),
    )
    sender = WebhookSender(
        simulator, url=base_url + "/github/hooks/", secret=made.webhook_secret.encode()
    )
    overlaid = settings.model_copy(
        update={
            "github_app_id": APP_ID,
            "github_app_private_key": SecretStr(made.private_key_pem),
            "github_app_private_key_path": None,
            "github_webhook_secret": SecretStr(made.webhook_secret),
            "github_api_url": urls.api,
            "dashboard_url": base_url + DASHBOARD_PREFIX,
            "bakery_callback_secret": settings.bakery_callback_secret
            or SecretStr(made.callback_secret),
        }
    )
    # A cached PEM from before the overlay would point the service at another key.
    overlaid.__dict__.pop("github_private_key_pem", None)
    seed(simulator)
    return Sandbox(simulator=simulator, sender=sender, settings=overlaid, base_url=base_url)


def seed(simulator: Simulator) -> None:
    """On first start: the App installed on the organisation, and staged-recipes."""
    with simulator.lock:
        state = simulator.state
        installed = INSTALLATION_ID not in state.installations
        if installed:
            state.installations[INSTALLATION_ID] = Installation(
                id=INSTALLATION_ID, account=ORG, created_at=simulator.now()
            )
        state.org_owners.setdefault(ORG.lower(), [MAINTAINER])
        if state.repo(ORG, STAGED_RECIPES) is None:
            create_repo(
                simulator,
                owner=ORG,
                body={"name": STAGED_RECIPES, "description": "Propose new datasets here"},
                author=(MAINTAINER, f"{MAINTAINER}@users.noreply.sandbox"),
            )
            repo = state.repo(ORG, STAGED_RECIPES)
            assert repo is not None
            simulator.git.commit(
                ORG,
                STAGED_RECIPES,
                files={"README.md": STAGED_README.encode()},
                message="Start staged-recipes",
                parents=(),
                author=(MAINTAINER, f"{MAINTAINER}@users.noreply.sandbox"),
                when=simulator.now(),
                branch=repo.default_branch,
            )
        if installed:
            announce_installation(simulator)
        simulator.save()


def announce_installation(simulator: Simulator) -> None:
    """Send `installation created`, as GitHub does when the App is installed."""
    repo = simulator.state.repo(ORG, STAGED_RECIPES)
    assert repo is not None
    installation = simulator.state.installations[INSTALLATION_ID]
    payload = webhook_payloads.installation_event(
        simulator.urls,
        action="created",
        installation=installation_json(simulator, installation),
        repositories=[simulator.repo_json(repo)],
        sender=MAINTAINER,
    )
    simulator.emit("installation", "created", payload, repo)


async def dashboard_redirects(scope: Scope, receive: Receive, send: Send) -> None:
    """`/recipe-run/{id}` (the website's run page) → 307 to `/recipe_runs/{id}`; else 404."""
    if scope["type"] != "http":
        return
    path, root_path = scope["path"], scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    found = re.fullmatch(r"/recipe-run/(\d+)/?", path)
    if found is None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    location = f"/recipe_runs/{found.group(1)}".encode()
    await send({"type": "http.response.start", "status": 307, "headers": [(b"location", location)]})
    await send({"type": "http.response.body", "body": b""})
