"""`POST /bakery/callbacks/`: a bakery's signed status report, stored and handled like a delivery.

The body is JSON `{recipe_run_id, job_id, state, message}`, signed with
`X-PFO-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` under
PFO_BAKERY_CALLBACK_SECRET. It is stored as a `bakery_callback` delivery named
`bakery:{run}:{job_id}:{state}` (so a repeat is stored once) and handled by the worker, which
queues `complete_run`. The status monitor's `dataflow` delivery ends in `queue_run_state` too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.core.events import Handled, Ignored, Outcome
from pangeo_forge_orchestrator.core.runs import Ignored as RunIgnored
from pangeo_forge_orchestrator.core.runs import transition
from pangeo_forge_orchestrator.db import runs as db_runs
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.jobs import queue
from pangeo_forge_orchestrator.jobs.complete_run import EVENTS
from pangeo_forge_orchestrator.jobs.services import COMPLETE_RUN
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.webhooks.inbox import InboundDelivery, store_delivery
from pangeo_forge_orchestrator.webhooks.payloads import Payload, PayloadError
from pangeo_forge_orchestrator.webhooks.routing import EventRoutes, HandlerContext
from pangeo_forge_orchestrator.webhooks.signature import signature_matches
from pangeo_forge_orchestrator.webhooks.signed_requests import (
    RequestRejectedError,
    json_answer,
    read_capped_body,
)

log = logging.getLogger(__name__)

BAKERY_CALLBACK_EVENT = "bakery_callback"
SIGNATURE_HEADER = "x-pfo-signature-256"
MAX_CALLBACK_BYTES = 64 * 1024

CALLBACKS_NOT_CONFIGURED = (
    "bakery callbacks are not configured: set PFO_BAKERY_CALLBACK_SECRET to accept them"
)
BAD_CALLBACK_SIGNATURE = "missing or invalid X-PFO-Signature-256"
CALLBACK_TOO_LARGE = f"request body exceeds {MAX_CALLBACK_BYTES} bytes"
BAD_CALLBACK_BODY = (
    "body must be a JSON object {{recipe_run_id: integer, job_id: text, "
    "state: running|succeeded|failed|cancelled, message: text or null}}: {problem}"
)
UNKNOWN_RUN = "recipe run {run_id} does not exist"
NOT_STORED = "the callback could not be stored; it was not accepted, so send it again later"
UNKNOWN_RUN_IGNORED = "recipe run {run_id} does not exist; the status report is ignored"
UNKNOWN_CONCLUSION = "dataflow conclusion {conclusion!r} is not one we act on"
# The original status monitor's conclusions, as our bake states.
DATAFLOW_STATES = {"success": "succeeded", "failure": "failed", "cancelled": "cancelled"}

CallbackState = Literal["running", "succeeded", "failed", "cancelled"]

router = APIRouter(tags=["github"])
routes = EventRoutes(BAKERY_CALLBACK_EVENT)


class BakeryCallback(BaseModel):
    """A bakery's report of one run's state."""

    model_config = ConfigDict(extra="ignore", strict=True)

    recipe_run_id: int = Field(ge=1)
    job_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:\-]+$")
    state: CallbackState
    message: str | None = Field(default=None, max_length=10_000)


@router.post(
    "/bakery/callbacks/",
    status_code=202,
    summary="Receive a bakery's signed status report",
    responses={
        202: {"description": '`{"delivery": GUID, "duplicate": bool}`: stored (or seen before)'},
        401: {"description": "Missing or invalid X-PFO-Signature-256; nothing stored"},
        404: {"description": "No such recipe run; nothing stored"},
        413: {"description": "Body larger than 64 kB"},
        422: {"description": "The body is not a valid status report"},
        503: {"description": "PFO_BAKERY_CALLBACK_SECRET is not set, or the database is down"},
    },
)
async def receive_callback(request: Request) -> Response:
    """Verify and store a status report; the worker applies it to the run."""
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    try:
        callback = await _verified_callback(request, settings)
        inbound = callback_delivery(callback)
        stored = await asyncio.to_thread(_store_if_run_exists, database, inbound, callback)
    except RequestRejectedError as rejected:
        return json_answer(rejected.status_code, {"detail": rejected.detail})
    except sa.exc.DBAPIError:
        log.exception("could not store a bakery callback")
        return json_answer(503, {"detail": NOT_STORED})
    return json_answer(202, {"delivery": inbound.guid, "duplicate": not stored})


async def _verified_callback(request: Request, settings: Settings) -> BakeryCallback:
    secret = settings.bakery_callback_secret
    if secret is None or not secret.get_secret_value():
        raise RequestRejectedError(503, CALLBACKS_NOT_CONFIGURED)
    raw = await read_capped_body(request, limit=MAX_CALLBACK_BYTES, too_large=CALLBACK_TOO_LARGE)
    header = request.headers.get(SIGNATURE_HEADER)
    if not signature_matches(raw, header, (secret.get_secret_value().encode(),)):
        raise RequestRejectedError(401, BAD_CALLBACK_SIGNATURE)
    try:
        return BakeryCallback.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError:
        raise RequestRejectedError(422, BAD_CALLBACK_BODY.format(problem="not JSON")) from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise RequestRejectedError(422, BAD_CALLBACK_BODY.format(problem=problems)) from None


def callback_delivery(callback: BakeryCallback) -> InboundDelivery:
    """The delivery a callback is stored as: named by (run, job, state), so repeats dedupe."""
    return InboundDelivery(
        guid=f"bakery:{callback.recipe_run_id}:{callback.job_id}:{callback.state}",
        event=BAKERY_CALLBACK_EVENT,
        action=callback.state,
        installation_id=None,
        repository=None,
        payload_json=orjson.dumps(callback.model_dump()).decode(),
    )


def _store_if_run_exists(
    database: Database, inbound: InboundDelivery, callback: BakeryCallback
) -> bool:
    with database.session() as session:
        if db_runs.get_run(session, callback.recipe_run_id) is None:
            raise RequestRejectedError(404, UNKNOWN_RUN.format(run_id=callback.recipe_run_id))
    return store_delivery(database, inbound)


def parse_callback(payload: Payload) -> BakeryCallback:
    try:
        return BakeryCallback.model_validate(payload)
    except ValidationError as error:
        raise PayloadError(str(error)) from None


@routes.on(parse=parse_callback, feedstock_only=False)
async def handle_callback(ctx: HandlerContext, callback: BakeryCallback) -> Outcome:
    """Queue the run's state change (complete_run validates it again under the row lock)."""
    return await queue_run_state(
        ctx.database, run_id=callback.recipe_run_id, state=callback.state, message=callback.message
    )


async def queue_run_state(
    database: Database, *, run_id: int, state: str, message: str | None
) -> Outcome:
    """Enqueue `complete_run` for a reported state, or say why the report changes nothing."""

    def work() -> Outcome:
        with database.session() as session:
            return _queue_run_state(session, run_id=run_id, state=state, message=message)

    return await asyncio.to_thread(work)


def _queue_run_state(session: Session, *, run_id: int, state: str, message: str | None) -> Outcome:
    found = db_runs.get_run(session, run_id)
    if found is None:
        return Ignored(UNKNOWN_RUN_IGNORED.format(run_id=run_id))
    outcome = transition(found.run.status, found.run.conclusion, EVENTS[state])
    if isinstance(outcome, RunIgnored):
        # Late, duplicate or out of order: the delivery records why nothing changed.
        return Ignored(outcome.reason)
    queue.enqueue(
        session,
        kind=COMPLETE_RUN,
        payload={"recipe_run_id": run_id, "state": state, "message": message},
        dedupe_key=f"complete:{run_id}:{state}",
    )
    return Handled()
