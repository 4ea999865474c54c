"""pangeo-forge-orchestrator: the GitHub App backend of a Pangeo-Forge-style service."""

__version__ = "0.1.0"
