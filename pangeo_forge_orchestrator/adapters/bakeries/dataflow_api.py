"""The Dataflow jobs API over httpx, as a Google service account (GoogleDataflowJobs).

Implements the DataflowJobs protocol (adapters/bakeries/dataflow.py) with two calls of
`projects.locations.jobs`: `get` (the job's `currentState`) and `update` with
`requestedState: JOB_STATE_CANCELLED` (Google's documented way to cancel).

The key comes from a profile's `env: GOOGLE_APPLICATION_CREDENTIALS` (a key file's path): the
variable the runner child already uses to submit the job, so one credential serves both.
Errors map to the protocol's types: 404 and 403 name the job (and the account, never its key);
429, 5xx and unreachable are DataflowUnavailableError, which a caller may retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowApiError,
    DataflowAuthError,
    DataflowJobNotFoundError,
    DataflowPermissionError,
    DataflowUnavailableError,
)
from pangeo_forge_orchestrator.adapters.bakeries.google_auth import (
    AccessToken,
    Clock,
    ServiceAccountKey,
    ServiceAccountTokens,
    json_object,
    retry_after,
    utcnow,
)
from pangeo_forge_orchestrator.core.bakeries import StorageProfile

CREDENTIALS_VAR = "GOOGLE_APPLICATION_CREDENTIALS"
DATAFLOW_API_URL = "https://dataflow.googleapis.com"
JOB_PATH = "/v1b3/projects/{project}/locations/{region}/jobs/{job_id}"
SUMMARY_VIEW = {"view": "JOB_VIEW_SUMMARY"}
CANCEL_BODY = {"requestedState": "JOB_STATE_CANCELLED"}
# Google leaves `currentState` out while a job is being created; core maps this to UNKNOWN.
STATE_NOT_REPORTED = "JOB_STATE_UNKNOWN"
REQUEST_TIMEOUT = httpx.Timeout(30.0)

JOB_NOT_FOUND = "Dataflow job {job_id} was not found in project {project}, region {region}"
PERMISSION_DENIED = (
    "service account {email} may not {action} Dataflow job {job_id} in project {project} "
    "(HTTP 403): grant it roles/dataflow.viewer to follow jobs, roles/dataflow.developer to "
    "cancel them"
)
API_REFUSED = "Dataflow answered HTTP {status} to {action} job {job_id}: {detail}"
API_UNREACHABLE = "the Dataflow API is unreachable: {error}"
FRESH_TOKEN_REFUSED = "Dataflow refused a fresh token of {email} (HTTP 401): {detail}"  # noqa: S105


@dataclass(frozen=True, kw_only=True)
class _Job:
    project: str
    region: str
    job_id: str


class GoogleDataflowJobs:
    """Dataflow's `projects.locations.jobs` get and cancel, as one service account.

    `credentials` is a key, or a key file's path (read at each token exchange);
    `transport` and `clock` are the tests' seams; `base_url`/`token_uri` point elsewhere
    (an emulator, a private endpoint).
    """

    def __init__(
        self,
        credentials: ServiceAccountKey | Path,
        *,
        base_url: str = DATAFLOW_API_URL,
        token_uri: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._tokens = ServiceAccountTokens(credentials, token_uri=token_uri, clock=clock)
        self._base_url = base_url.rstrip("/")
        self._transport = transport

    def __repr__(self) -> str:
        return f"GoogleDataflowJobs({self._tokens!r})"

    async def get_state(self, *, project_id: str, region: str, job_id: str) -> str:
        """Return the job's `currentState`, e.g. `JOB_STATE_RUNNING`."""
        job = _Job(project=project_id, region=region, job_id=job_id)
        response = await self._call("GET", job, params=SUMMARY_VIEW)
        self._raise_for(response, job=job, action="read")
        state = json_object(response).get("currentState")
        return state if isinstance(state, str) else STATE_NOT_REPORTED

    async def cancel(self, *, project_id: str, region: str, job_id: str) -> None:
        """Ask Dataflow to cancel the job (`requestedState: JOB_STATE_CANCELLED`)."""
        job = _Job(project=project_id, region=region, job_id=job_id)
        response = await self._call("PUT", job, json_body=CANCEL_BODY)
        self._raise_for(response, job=job, action="cancel")

    def _url(self, job: _Job) -> str:
        # Each segment quoted whole, so an odd job id cannot reach another resource.
        path = JOB_PATH.format(
            project=quote(job.project, safe=""),
            region=quote(job.region, safe=""),
            job_id=quote(job.job_id, safe=""),
        )
        return self._base_url + path

    async def _call(
        self,
        method: str,
        job: _Job,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send with a valid token; on a 401, renew the token once and send again."""
        url = self._url(job)
        async with httpx.AsyncClient(transport=self._transport, timeout=REQUEST_TIMEOUT) as client:
            token = await self._tokens.get(client)
            response = await _send(client, method, url, token, params=params, json_body=json_body)
            if response.status_code == httpx.codes.UNAUTHORIZED:
                token = await self._tokens.renew(client, stale=token)
                response = await _send(
                    client, method, url, token, params=params, json_body=json_body
                )
            return response

    def _raise_for(self, response: httpx.Response, *, job: _Job, action: str) -> None:
        status = response.status_code
        if not response.is_error:
            return
        where = {"job_id": job.job_id, "project": job.project, "region": job.region}
        if status == httpx.codes.NOT_FOUND:
            raise DataflowJobNotFoundError(JOB_NOT_FOUND.format(**where), status=status)
        if status == httpx.codes.FORBIDDEN:
            message = PERMISSION_DENIED.format(email=self._tokens.email, action=action, **where)
            raise DataflowPermissionError(message, status=status)
        detail = google_message(response)
        if status == httpx.codes.UNAUTHORIZED:
            message = FRESH_TOKEN_REFUSED.format(email=self._tokens.email, detail=detail)
            raise DataflowAuthError(message, status=status)
        message = API_REFUSED.format(status=status, action=action, job_id=job.job_id, detail=detail)
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= 500:
            raise DataflowUnavailableError(
                message, status=status, retry_after=retry_after(response)
            )
        raise DataflowApiError(message, status=status)


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    token: AccessToken,
    *,
    params: dict[str, str] | None,
    json_body: dict[str, Any] | None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token.value.get_secret_value()}"}
    try:
        return await client.request(method, url, headers=headers, params=params, json=json_body)
    except httpx.TransportError as error:
        # `from None`: the cause holds the request, and the request its Authorization header.
        raise DataflowUnavailableError(API_UNREACHABLE.format(error=repr(error))) from None


def google_message(response: httpx.Response) -> str:
    """The `error.message` of Google's error body, shortened; the reason phrase without one."""
    error = json_object(response).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        return response.reason_phrase or "no detail"
    return message[:300]


def google_dataflow_jobs(
    profile: StorageProfile,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utcnow,
) -> GoogleDataflowJobs | None:
    """A jobs client with the profile's `GOOGLE_APPLICATION_CREDENTIALS` key file, or None."""
    path = profile.env.get(CREDENTIALS_VAR)
    if path is None or not path.get_secret_value():
        return None
    return GoogleDataflowJobs(Path(path.get_secret_value()), transport=transport, clock=clock)
