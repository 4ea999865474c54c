"""The links we put on GitHub: a recipe run's page on the website and its logs on this service."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True, slots=True, kw_only=True)
class Links:
    """Base URLs from Settings (`PFO_DASHBOARD_URL`, `PFO_PUBLIC_URL`), without trailing slash."""

    dashboard_url: str
    public_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "dashboard_url", self.dashboard_url.rstrip("/"))
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))

    def run_page(self, *, run_id: int, feedstock_id: int) -> str:
        """The website's page of one recipe run, as the original linked it."""
        query = urlencode({"feedstock_id": feedstock_id})
        return f"{self.dashboard_url}/recipe-run/{run_id}?{query}"

    def run_logs(self, run_id: int) -> str:
        """This service's (redacted) log of one recipe run."""
        return f"{self.public_url}/recipe_runs/{run_id}/logs"
