"""`installation_repositories`: repositories were added to or removed from an installation."""

from __future__ import annotations

import asyncio

from pangeo_forge_orchestrator.core.events import (
    Handled,
    InstallationRepositoriesChanged,
    Outcome,
    installation_repositories_effect,
)
from pangeo_forge_orchestrator.webhooks.installation import apply_effect
from pangeo_forge_orchestrator.webhooks.payloads import parse_installation_repositories
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

routes = EventRoutes("installation_repositories")


@routes.on("added", "removed", parse=parse_installation_repositories, feedstock_only=False)
async def update_installation_repositories(
    ctx: HandlerContext, event: InstallationRepositoriesChanged
) -> Outcome:
    """Add and remove the listed repositories on the stored installation."""
    await asyncio.to_thread(apply_effect, ctx.database, installation_repositories_effect(event))
    return Handled()
