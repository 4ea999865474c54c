"""Every event module, assembled in one place: add a module here to handle a new event."""

from __future__ import annotations

from pangeo_forge_orchestrator.webhooks import (
    dataflow,
    installation,
    installation_repositories,
    ping,
)
from pangeo_forge_orchestrator.webhooks.routing import Router

EVENT_MODULES = (ping, installation, installation_repositories, dataflow)

router = Router(*(module.routes for module in EVENT_MODULES))
