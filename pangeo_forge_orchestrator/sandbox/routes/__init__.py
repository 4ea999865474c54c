"""The simulator's routes, one module per area; importing this package registers them all."""

from pangeo_forge_orchestrator.sandbox.routes import (
    app,
    checks,
    contents,
    deployments,
    git,
    issues,
    pulls,
    repos,
)

__all__ = ["app", "checks", "contents", "deployments", "git", "issues", "pulls", "repos"]
