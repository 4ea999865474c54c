"""`ping`: GitHub checks the hook works; recording it was the whole job."""

from __future__ import annotations

from pangeo_forge_orchestrator.core.events import Handled, Outcome, Ping
from pangeo_forge_orchestrator.webhooks.payloads import parse_ping
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

routes = EventRoutes("ping")


@routes.on(parse=parse_ping, feedstock_only=False)
async def acknowledge_ping(ctx: HandlerContext, ping: Ping) -> Outcome:
    """Mark the ping handled: the 202 already told GitHub the hook reaches us."""
    return Handled()
