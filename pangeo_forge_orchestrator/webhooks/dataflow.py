"""`dataflow`: the original status monitor's callback, signed like a webhook (DESIGN §4).

Stored and queued like any delivery (named `dataflow:{run}:{conclusion}`, so a repeat is stored
once); handling queues `complete_run` with the conclusion as a bake state, exactly as a
`/bakery/callbacks/` report does.
"""

from __future__ import annotations

from pangeo_forge_orchestrator.core.events import DataflowCallback, Ignored, Outcome
from pangeo_forge_orchestrator.webhooks.bakery_callbacks import (
    DATAFLOW_STATES,
    UNKNOWN_CONCLUSION,
    queue_run_state,
)
from pangeo_forge_orchestrator.webhooks.payloads import parse_dataflow
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

DATAFLOW_EVENT = "dataflow"

routes = EventRoutes(DATAFLOW_EVENT)


@routes.on(parse=parse_dataflow, feedstock_only=False)
async def handle_dataflow_callback(ctx: HandlerContext, callback: DataflowCallback) -> Outcome:
    """Queue the run's completion with the job's conclusion (success/failure/cancelled)."""
    state = DATAFLOW_STATES.get(callback.conclusion)
    if state is None:
        return Ignored(UNKNOWN_CONCLUSION.format(conclusion=callback.conclusion))
    return await queue_run_state(
        ctx.database, run_id=callback.recipe_run_id, state=state, message=None
    )
