"""Every event module, assembled in one place: add a module here to handle a new event."""

from __future__ import annotations

from pangeo_forge_orchestrator.webhooks import (
    bakery_callbacks,
    check_run,
    check_suite,
    dataflow,
    installation,
    installation_repositories,
    issue_comment,
    ping,
    pull_request,
    pull_request_merged,
)
from pangeo_forge_orchestrator.webhooks.routing import Router

EVENT_MODULES = (
    ping,
    installation,
    installation_repositories,
    dataflow,
    bakery_callbacks,
    pull_request,
    pull_request_merged,
    issue_comment,
    check_run,
    check_suite,
)

router = Router(*(module.routes for module in EVENT_MODULES))
