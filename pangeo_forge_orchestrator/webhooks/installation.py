"""`installation`: the App was installed, removed, suspended or given new permissions."""

from __future__ import annotations

import asyncio

from pangeo_forge_orchestrator.core.events import (
    Handled,
    InstallationChanged,
    InstallationEffect,
    Outcome,
    installation_effect,
)
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.webhooks.installation_store import apply_installation_effect
from pangeo_forge_orchestrator.webhooks.payloads import parse_installation
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

routes = EventRoutes("installation")


@routes.on(
    "created",
    "deleted",
    "suspend",
    "unsuspend",
    "new_permissions_accepted",
    parse=parse_installation,
    feedstock_only=False,
)
async def keep_installation_current(ctx: HandlerContext, event: InstallationChanged) -> Outcome:
    """Save the installation as GitHub now describes it; forget it once deleted."""
    await asyncio.to_thread(apply_effect, ctx.database, installation_effect(event))
    return Handled()


def apply_effect(database: Database, effect: InstallationEffect) -> None:
    with database.session() as session:
        apply_installation_effect(session, effect)
