"""`dataflow`: the original status monitor's callback, signed like a webhook (DESIGN §4).

Stored and queued like any delivery so none is lost; acting on it belongs to the bakeries work,
so for now the delivery is marked ignored with a reason that says so.
"""

from __future__ import annotations

from pangeo_forge_orchestrator.core.events import (
    DATAFLOW_NOT_HANDLED_REASON,
    DataflowCallback,
    Ignored,
    Outcome,
)
from pangeo_forge_orchestrator.webhooks.payloads import parse_dataflow
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

DATAFLOW_EVENT = "dataflow"

routes = EventRoutes(DATAFLOW_EVENT)


@routes.on(parse=parse_dataflow, feedstock_only=False)
async def defer_dataflow_callback(ctx: HandlerContext, callback: DataflowCallback) -> Outcome:
    """Leave the callback for the bakery status handling that will replace this handler."""
    return Ignored(DATAFLOW_NOT_HANDLED_REASON)
