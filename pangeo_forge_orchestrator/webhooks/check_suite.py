"""`check_suite` rerequested: "Re-run all checks" on a commit (see check_run.py)."""

from __future__ import annotations

from pangeo_forge_orchestrator.core.events import Outcome
from pangeo_forge_orchestrator.webhooks.check_run import rerun_failed
from pangeo_forge_orchestrator.webhooks.payloads_pulls import CheckRerequested, parse_check_suite
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext

routes = EventRoutes("check_suite")


@routes.on("rerequested", parse=parse_check_suite, feedstock_only=True)
async def rerun_check_suite(ctx: HandlerContext, event: CheckRerequested) -> Outcome:
    """Start a new attempt of each recipe whose latest run at the suite's sha failed."""
    return await rerun_failed(ctx, event)
