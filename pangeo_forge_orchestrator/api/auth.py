"""Admin routes need an `X-API-Key`: 401 without one, 403 for an unknown or revoked key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader

from pangeo_forge_orchestrator.api.crud import AppDatabase
from pangeo_forge_orchestrator.api.schemas import Problem
from pangeo_forge_orchestrator.db.api_keys import KeyCheck, check_api_key

API_KEY_HEADER = "X-API-Key"
MISSING_API_KEY = (
    f"this route needs an admin API key in the {API_KEY_HEADER} header "
    "(an operator creates one with `pfo api-keys create NAME`)"
)
UNKNOWN_API_KEY = f"the {API_KEY_HEADER} header holds no known API key"
REVOKED_API_KEY = f"the API key in the {API_KEY_HEADER} header has been revoked"
# No registered scheme exists for API keys; this names the header a client must send.
CHALLENGE = f'APIKey header="{API_KEY_HEADER}"'

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="APIKey",
    description="An admin key from `pfo api-keys create NAME`.",
    auto_error=False,
)

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key was sent"},
    403: {"model": Problem, "description": "The API key is unknown or revoked"},
}


def require_api_key(
    database: AppDatabase, key: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Let the request through only with a valid, unrevoked admin key."""
    if not key:
        raise HTTPException(
            status_code=401, detail=MISSING_API_KEY, headers={"WWW-Authenticate": CHALLENGE}
        )
    with database.sessions() as session:
        check = check_api_key(session, key)
    if check is KeyCheck.REVOKED:
        raise HTTPException(status_code=403, detail=REVOKED_API_KEY)
    if check is not KeyCheck.VALID:
        raise HTTPException(status_code=403, detail=UNKNOWN_API_KEY)


AdminKey = Depends(require_api_key)
