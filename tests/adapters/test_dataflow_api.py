"""GoogleDataflowJobs against a fake Google (token endpoint and jobs API) on MockTransport."""

from __future__ import annotations

import asyncio
import json
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import jwt
import pytest

from pangeo_forge_orchestrator.adapters.bakeries.dataflow import (
    DataflowApiError,
    DataflowAuthError,
    DataflowBakery,
    DataflowJobNotFoundError,
    DataflowNotConfiguredError,
    DataflowPermissionError,
    DataflowUnavailableError,
)
from pangeo_forge_orchestrator.adapters.bakeries.dataflow_api import (
    CANCEL_BODY,
    GoogleDataflowJobs,
)
from pangeo_forge_orchestrator.adapters.bakeries.google_auth import (
    JWT_BEARER_GRANT,
    SCOPE,
    ServiceAccountKey,
)
from pangeo_forge_orchestrator.adapters.bakeries.registry import build_bakeries, load_bakeries
from pangeo_forge_orchestrator.core.bakes import BakeHandle, BakeState
from pangeo_forge_orchestrator.jobs.cancel_bake import CANCEL_BAKE, cancel_bake
from pangeo_forge_orchestrator.jobs.queue import ClaimedJob
from pangeo_forge_orchestrator.jobs.registry import JobContext, RetryLater
from pangeo_forge_orchestrator.jobs.services import BAKERIES_SERVICE, BakeryServices
from pangeo_forge_orchestrator.settings import Settings
from tests.fake_github import AppKey, MutableClock

pytestmark = pytest.mark.anyio

EMAIL = "bakery@pangeo-forge-4967.iam.gserviceaccount.com"
TOKEN_URI = "https://oauth2.example.test/token"
API = "https://dataflow.example.test"
PROJECT, REGION, JOB = "pangeo-forge-4967", "us-central1", "2024-01-02_03_04_05-123"
JOB_PATH = f"/v1b3/projects/{PROJECT}/locations/{REGION}/jobs/{JOB}"


def key_json(key: AppKey) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "client_email": EMAIL,
            "private_key": key.pem,
            "private_key_id": "abc123",
            "token_uri": TOKEN_URI,
        }
    )


class FakeGoogle:
    """The token endpoint and the jobs API: issues tokens, checks them, serves job states."""

    def __init__(self) -> None:
        self.states = {JOB: "JOB_STATE_RUNNING"}
        self.token_forms: list[dict[str, str]] = []
        self.api_calls: list[httpx.Request] = []
        self.valid: set[str] = set()
        self.api_answer: tuple[int, dict[str, str], dict[str, object]] | None = None
        self.token_answer: tuple[int, dict[str, object]] | None = None
        self.unreachable = False
        self.transport = httpx.MockTransport(self.handle)

    def issued(self, n: int) -> str:
        return f"ya29.fake-token-{n}"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        if str(request.url) == TOKEN_URI:
            return await self._token(request)
        self.api_calls.append(request)
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401, json={"error": {"message": "Request had invalid auth"}})
        if self.api_answer is not None:
            status, headers, body = self.api_answer
            return httpx.Response(status, headers=headers, json=body)
        job_id = request.url.path.rsplit("/", 1)[-1]
        if job_id not in self.states:
            return httpx.Response(404, json={"error": {"message": "not found"}})
        if request.method == "PUT":
            self.states[job_id] = "JOB_STATE_CANCELLING"
        return httpx.Response(200, json={"id": job_id, "currentState": self.states[job_id]})

    async def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.token_forms.append(form)
        await asyncio.sleep(0.01)  # let concurrent callers pile up behind the exchange
        if self.token_answer is not None:
            status, body = self.token_answer
            return httpx.Response(status, json=body)
        token = self.issued(len(self.token_forms))
        self.valid.add(token)
        return httpx.Response(200, json={"access_token": token, "expires_in": 3600})


@pytest.fixture
def key() -> AppKey:
    return AppKey.generate()


@pytest.fixture
def google() -> FakeGoogle:
    return FakeGoogle()


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()


@pytest.fixture
def jobs(key: AppKey, google: FakeGoogle, clock: MutableClock) -> GoogleDataflowJobs:
    account = ServiceAccountKey.from_json(key_json(key), source="test key")
    return GoogleDataflowJobs(account, base_url=API, transport=google.transport, clock=clock)


def where() -> dict[str, str]:
    return {"project_id": PROJECT, "region": REGION, "job_id": JOB}


def assert_no_secrets(error: BaseException, key: AppKey, google: FakeGoogle) -> None:
    text = "".join(traceback.format_exception(error)) + repr(error)
    for n in range(1, len(google.token_forms) + 2):
        assert google.issued(n) not in text
    for line in key.pem.splitlines()[1:-1]:
        assert line not in text
    for form in google.token_forms:
        assert form["assertion"] not in text


async def test_get_state_returns_the_current_state_with_one_token(
    jobs: GoogleDataflowJobs, google: FakeGoogle
):
    assert await jobs.get_state(**where()) == "JOB_STATE_RUNNING"
    google.states[JOB] = "JOB_STATE_DONE"
    assert await jobs.get_state(**where()) == "JOB_STATE_DONE"

    assert len(google.token_forms) == 1
    first, second = google.api_calls
    assert (first.method, first.url.path, dict(first.url.params)) == (
        "GET",
        JOB_PATH,
        {"view": "JOB_VIEW_SUMMARY"},
    )
    assert first.headers["authorization"] == f"Bearer {google.issued(1)}"
    assert second.headers["authorization"] == f"Bearer {google.issued(1)}"


async def test_the_assertion_is_signed_by_the_key_with_google_claims(
    jobs: GoogleDataflowJobs, google: FakeGoogle, key: AppKey, clock: MutableClock
):
    await jobs.get_state(**where())

    (form,) = google.token_forms
    assert form["grant_type"] == JWT_BEARER_GRANT
    claims = jwt.decode(
        form["assertion"],
        key.public_key,
        algorithms=["RS256"],
        audience=TOKEN_URI,
        options={"verify_iat": False},
    )
    now = int(clock().timestamp())
    assert claims == {"iss": EMAIL, "scope": SCOPE, "aud": TOKEN_URI, "iat": now, "exp": now + 3600}


async def test_a_token_is_renewed_a_minute_before_it_expires(
    jobs: GoogleDataflowJobs, google: FakeGoogle, clock: MutableClock
):
    await jobs.get_state(**where())
    clock.advance(timedelta(seconds=3600 - 61))
    await jobs.get_state(**where())
    assert len(google.token_forms) == 1

    clock.advance(timedelta(seconds=2))
    await jobs.get_state(**where())

    assert len(google.token_forms) == 2
    assert google.api_calls[-1].headers["authorization"] == f"Bearer {google.issued(2)}"


async def test_a_refused_token_is_renewed_once_and_the_call_retried(
    jobs: GoogleDataflowJobs, google: FakeGoogle
):
    await jobs.get_state(**where())
    google.valid.clear()  # revoked on Google's side

    assert await jobs.get_state(**where()) == "JOB_STATE_RUNNING"

    assert len(google.token_forms) == 2
    assert [c.headers["authorization"] for c in google.api_calls[1:]] == [
        f"Bearer {google.issued(1)}",
        f"Bearer {google.issued(2)}",
    ]


async def test_a_401_that_persists_is_an_auth_error_after_one_renewal(
    jobs: GoogleDataflowJobs, google: FakeGoogle, key: AppKey
):
    google.api_answer = (401, {}, {"error": {"message": "Request had invalid auth"}})

    with pytest.raises(DataflowAuthError, match=f"fresh token of {EMAIL}") as caught:
        await jobs.get_state(**where())

    assert (len(google.token_forms), len(google.api_calls)) == (2, 2)
    assert_no_secrets(caught.value, key, google)


async def test_concurrent_callers_share_one_token_exchange(
    jobs: GoogleDataflowJobs, google: FakeGoogle
):
    states = await asyncio.gather(*(jobs.get_state(**where()) for _ in range(8)))

    assert states == ["JOB_STATE_RUNNING"] * 8
    assert len(google.token_forms) == 1


async def test_cancel_puts_the_cancelled_requested_state(
    jobs: GoogleDataflowJobs, google: FakeGoogle
):
    await jobs.cancel(**where())

    (call,) = google.api_calls
    assert (call.method, call.url.path, json.loads(call.content)) == ("PUT", JOB_PATH, CANCEL_BODY)
    assert CANCEL_BODY == {"requestedState": "JOB_STATE_CANCELLED"}
    assert google.states[JOB] == "JOB_STATE_CANCELLING"


async def test_an_odd_job_id_stays_one_path_segment(jobs: GoogleDataflowJobs, google: FakeGoogle):
    with pytest.raises(DataflowJobNotFoundError):
        await jobs.get_state(project_id=PROJECT, region=REGION, job_id="../../other/jobs/x")

    assert google.api_calls[0].url.raw_path.decode() == (
        f"/v1b3/projects/{PROJECT}/locations/{REGION}/jobs/..%2F..%2Fother%2Fjobs%2Fx"
        "?view=JOB_VIEW_SUMMARY"
    )


@pytest.mark.parametrize(
    ("status", "headers", "error_type", "words"),
    [
        (404, {}, DataflowJobNotFoundError, [JOB, PROJECT, REGION]),
        (403, {}, DataflowPermissionError, [EMAIL, JOB, PROJECT, "roles/dataflow"]),
        (429, {"Retry-After": "7"}, DataflowUnavailableError, ["HTTP 429", JOB, "quota"]),
        (500, {}, DataflowUnavailableError, ["HTTP 500", JOB, "quota"]),
        (503, {}, DataflowUnavailableError, ["HTTP 503", JOB]),
        (400, {}, DataflowApiError, ["HTTP 400", JOB]),
    ],
)
async def test_api_errors_map_to_their_types_without_secrets(
    jobs: GoogleDataflowJobs,
    google: FakeGoogle,
    key: AppKey,
    status: int,
    headers: dict[str, str],
    error_type: type[DataflowApiError],
    words: list[str],
):
    await jobs.get_state(**where())
    google.api_answer = (status, headers, {"error": {"message": "quota exceeded"}})

    with pytest.raises(error_type) as caught:
        await jobs.cancel(**where())

    error = caught.value
    assert error.status == status
    for word in words:
        assert word in str(error)
    retryable = isinstance(error, DataflowUnavailableError)
    assert retryable == (status == 429 or status >= 500)
    if status == 429:
        assert isinstance(error, DataflowUnavailableError)
        assert error.retry_after == timedelta(seconds=7)
    assert_no_secrets(error, key, google)


async def test_an_unreachable_api_is_retryable_and_leaks_nothing(
    jobs: GoogleDataflowJobs, google: FakeGoogle, key: AppKey
):
    await jobs.get_state(**where())
    google.unreachable = True

    with pytest.raises(DataflowUnavailableError, match="unreachable") as caught:
        await jobs.get_state(**where())

    assert caught.value.status == 0
    assert_no_secrets(caught.value, key, google)


@pytest.mark.parametrize(
    ("status", "error_type", "words"),
    [
        (400, DataflowAuthError, [EMAIL, "invalid_grant", "HTTP 400"]),
        (503, DataflowUnavailableError, ["token endpoint", "HTTP 503"]),
    ],
)
async def test_a_refused_token_exchange_names_the_account_not_the_key(
    jobs: GoogleDataflowJobs,
    google: FakeGoogle,
    key: AppKey,
    status: int,
    error_type: type[DataflowApiError],
    words: list[str],
):
    google.token_answer = (status, {"error": "invalid_grant", "error_description": "Bad JWT"})

    with pytest.raises(error_type) as caught:
        await jobs.get_state(**where())

    for word in words:
        assert word in str(caught.value)
    assert google.api_calls == []
    assert_no_secrets(caught.value, key, google)


async def test_a_key_file_is_read_at_the_exchange_and_its_problems_name_the_path(
    tmp_path: Path, google: FakeGoogle, key: AppKey
):
    path = tmp_path / "sa.json"
    jobs = GoogleDataflowJobs(path, base_url=API, transport=google.transport)

    with pytest.raises(DataflowAuthError, match=f"cannot read .*{path}: No such file"):
        await jobs.get_state(**where())
    path.write_text(json.dumps({"client_email": EMAIL, "private_key": key.pem}))
    with pytest.raises(DataflowAuthError, match="missing token_uri") as caught:
        await jobs.get_state(**where())
    assert_no_secrets(caught.value, key, google)
    path.write_text(key_json(key))

    assert await jobs.get_state(**where()) == "JOB_STATE_RUNNING"
    assert EMAIL in repr(jobs)
    assert "PRIVATE" not in repr(jobs)


async def test_token_uri_and_base_url_can_point_elsewhere(
    key: AppKey, google: FakeGoogle, clock: MutableClock
):
    account = ServiceAccountKey.from_json(
        key_json(key).replace(TOKEN_URI, "https://unused.example.test/token"), source="k"
    )
    jobs = GoogleDataflowJobs(
        account, base_url=API + "/", token_uri=TOKEN_URI, transport=google.transport, clock=clock
    )

    assert await jobs.get_state(**where()) == "JOB_STATE_RUNNING"
    assert str(google.api_calls[0].url).startswith(API + JOB_PATH)


BAKERIES_YAML = """
bakeries:
  gcp:
    region: us-central1
    description: Dataflow
    kind: dataflow
    runner_config:
      DataflowBakery: {project_id: p, temp_gcs_location: gs://b/temp}
    env:
      GOOGLE_APPLICATION_CREDENTIALS: ${GCP_KEY_FILE}
    target_root: "gs://b/{subpath}"
    public_url: "https://storage.googleapis.com/b/{subpath}"
    test:
      runner_config:
        DataflowBakery: {project_id: t, temp_gcs_location: gs://t/temp}
      target_root: "gs://t/{subpath}"
      public_url: "https://storage.googleapis.com/t/{subpath}"
  plain:
    region: us-central1
    description: Dataflow without a key
    kind: dataflow
    runner_config:
      DataflowBakery: {project_id: p, temp_gcs_location: gs://b/temp}
    target_root: "gs://b/{subpath}"
    public_url: "https://storage.googleapis.com/b/{subpath}"
"""


async def test_the_registry_follows_jobs_with_each_profiles_own_key(tmp_path: Path):
    file = tmp_path / "bakeries.yaml"
    file.write_text(BAKERIES_YAML)
    key_file = tmp_path / "absent-key.json"
    registry = load_bakeries(
        bakeries_file=file, data_dir=tmp_path, environ={"GCP_KEY_FILE": str(key_file)}
    )
    bakeries = build_bakeries(
        registry, runner_command_line="pangeo-forge-runner", environ={}, data_dir=tmp_path
    )

    def handle(bakery: str, *, is_test: bool) -> BakeHandle:
        return BakeHandle(bakery=bakery, recipe_run_id=1, is_test=is_test, job_name="n", job_id=JOB)

    # The production profile has a key: a Google client, which reads the (absent) key file.
    with pytest.raises(DataflowAuthError, match=str(key_file)):
        await bakeries["gcp"].status(handle("gcp", is_test=False))
    # Its test profile has none of its own, and never borrows production's.
    with pytest.raises(DataflowNotConfiguredError):
        await bakeries["gcp"].status(handle("gcp", is_test=True))
    for is_test in (False, True):
        with pytest.raises(DataflowNotConfiguredError):
            await bakeries["plain"].cancel(handle("plain", is_test=is_test))


async def test_a_dataflow_bakery_reads_its_run_state_through_the_google_client(
    jobs: GoogleDataflowJobs, google: FakeGoogle, tmp_path: Path
):
    registry = load_bakeries(
        bakeries_file=_write(tmp_path, BAKERIES_YAML),
        data_dir=tmp_path,
        environ={"GCP_KEY_FILE": "x"},
    )
    bakery = DataflowBakery(
        registry["plain"], runner_command=["pfr"], environ={}, redact=registry.redact, jobs=jobs
    )
    handle = BakeHandle(bakery="plain", recipe_run_id=1, is_test=False, job_name="n", job_id=JOB)
    google.states[JOB] = "JOB_STATE_DONE"

    status = await bakery.status(handle)

    assert status.state is BakeState.SUCCEEDED
    assert google.api_calls[0].url.path == f"/v1b3/projects/p/locations/{REGION}/jobs/{JOB}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bakeries.yaml"
    path.write_text(text)
    return path


async def test_a_cancel_dataflow_rate_limits_comes_back_when_google_says(
    jobs: GoogleDataflowJobs, google: FakeGoogle, key: AppKey, tmp_path: Path
):
    # The cancel_bake job (after /cancel or a timeout) reschedules itself at Google's
    # Retry-After; without one the error propagates, and the worker's backoff retries it.
    registry = load_bakeries(
        bakeries_file=_write(tmp_path, BAKERIES_YAML),
        data_dir=tmp_path,
        environ={"GCP_KEY_FILE": "x"},
    )
    bakery = DataflowBakery(
        registry["plain"], runner_command=["pfr"], environ={}, redact=registry.redact, jobs=jobs
    )
    services = {BAKERIES_SERVICE: BakeryServices(registry=registry, adapters={"plain": bakery})}
    # cancel_bake reads only the bakeries: no database behind this context.
    ctx = JobContext(settings=Settings(_env_file=None), database=None, services=services)  # type: ignore[arg-type]
    handle = {"bakery": "plain", "recipe_run_id": 7, "is_test": False, "job_name": "n"}
    job = ClaimedJob(
        id=1, kind=CANCEL_BAKE, payload={**handle, "job_id": JOB}, attempt=1, max_attempts=5,
        locked_by="t",
    )  # fmt: skip
    google.api_answer = (429, {"Retry-After": "30"}, {"error": {"message": "Quota exceeded"}})

    before = datetime.now(UTC)
    with pytest.raises(RetryLater) as later:
        await cancel_bake(ctx, job)

    assert timedelta(seconds=29) <= later.value.at - before <= timedelta(seconds=31)
    assert "HTTP 429" in later.value.reason
    assert "Quota exceeded" in later.value.reason
    assert_no_secrets(later.value, key, google)

    google.api_answer = None
    google.unreachable = True
    with pytest.raises(DataflowUnavailableError) as unreachable:
        await cancel_bake(ctx, job)
    assert unreachable.value.retry_after is None
    assert_no_secrets(unreachable.value, key, google)
