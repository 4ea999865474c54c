"""`POST /github/hooks/`: verify a delivery, store it with its job in one transaction, answer 202.

Nothing else happens in the request (no GitHub call, no subprocess): the worker handles the
stored delivery. The status monitor's form-encoded `dataflow` callback comes in here too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qs

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from starlette.datastructures import State

from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.webhooks.dataflow import DATAFLOW_EVENT
from pangeo_forge_orchestrator.webhooks.inbox import InboundDelivery
from pangeo_forge_orchestrator.webhooks.payloads import (
    Payload,
    PayloadError,
    parse_dataflow,
    parse_envelope,
)
from pangeo_forge_orchestrator.webhooks.signature import signature_matches, webhook_secrets
from pangeo_forge_orchestrator.webhooks.signed_requests import (
    RequestRejectedError,
    json_answer,
    read_capped_body,
)
from pangeo_forge_orchestrator.webhooks.writer import DeliveryWriter

# GitHub caps webhook payloads at 25 MB and does not deliver larger ones.
MAX_BODY_BYTES = 25 * 1024 * 1024

NOT_CONFIGURED = (
    "GitHub App not configured: set PFO_GITHUB_APP_ID, PFO_GITHUB_WEBHOOK_SECRET and "
    "PFO_GITHUB_APP_PRIVATE_KEY (or PFO_GITHUB_APP_PRIVATE_KEY_PATH)"
)
BODY_TOO_LARGE = f"request body exceeds {MAX_BODY_BYTES} bytes"
BAD_SIGNATURE = "missing or invalid X-Hub-Signature-256"
MISSING_EVENT = "missing X-GitHub-Event header"
MISSING_DELIVERY = "missing X-GitHub-Delivery header"
BAD_HEADER = "invalid {header} header"
NOT_JSON = "body is not a JSON object"
NOT_STORED = "the delivery could not be stored; it was not accepted, so redeliver it later"
BAD_DATAFLOW = (
    "dataflow callback needs a form body with action, recipe_run_id (integer) and conclusion"
)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# GUIDs and event names are short tokens; anything else is not GitHub talking.
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_DIGITS = re.compile(r"[0-9]{1,18}")

log = logging.getLogger(__name__)

router = APIRouter(tags=["github"])


@router.post(
    "/github/hooks/",
    status_code=202,
    summary="Receive a GitHub webhook delivery",
    responses={
        202: {"description": '`{"delivery": GUID, "duplicate": bool}`: stored (or seen before)'},
        400: {"description": "A header is missing or the body is not a JSON object"},
        401: {"description": "Missing or invalid signature; nothing stored"},
        413: {"description": "Body larger than 25 MB"},
        503: {"description": "The GitHub App is not configured, or the database is down"},
    },
)
async def receive_delivery(request: Request) -> Response:
    """Verify, store and queue a delivery; a GUID seen before is acknowledged, not queued again."""
    settings: Settings = request.app.state.settings
    try:
        inbound = await _verified_delivery(request, settings)
    except RequestRejectedError as rejected:
        return json_answer(rejected.status_code, {"detail": rejected.detail})
    try:
        stored = await _writer(request.app.state).store(inbound)
    except sa.exc.DBAPIError:
        # Not acknowledged, so GitHub shows the delivery failed and it can be redelivered.
        log.exception("could not store a delivery", extra={"delivery": inbound.guid})
        return json_answer(503, {"detail": NOT_STORED})
    return json_answer(202, {"delivery": inbound.guid, "duplicate": not stored})


def _writer(state: State) -> DeliveryWriter:
    """The app's group-commit writer, made on first use by the loop that serves requests."""
    writer: DeliveryWriter | None = getattr(state, "delivery_writer", None)
    if writer is None or writer.loop is not asyncio.get_running_loop():
        if writer is not None:
            writer.close()
        writer = DeliveryWriter(state.database)
        state.delivery_writer = writer
    return writer


async def _verified_delivery(request: Request, settings: Settings) -> InboundDelivery:
    if not settings.github_app_configured:
        raise RequestRejectedError(503, NOT_CONFIGURED)
    body = await read_capped_body(request, limit=MAX_BODY_BYTES, too_large=BODY_TOO_LARGE)
    if not signature_matches(
        body, request.headers.get("x-hub-signature-256"), webhook_secrets(settings)
    ):
        raise RequestRejectedError(401, BAD_SIGNATURE)
    event = _token_header(request, "x-github-event", missing=MISSING_EVENT)
    if event == DATAFLOW_EVENT:
        return _dataflow_delivery(body)
    guid = _token_header(request, "x-github-delivery", missing=MISSING_DELIVERY)
    # A repository hook set to the form content type sends the JSON as the `payload` field.
    form = request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPE)
    raw = _form_field(body, "payload").encode() if form else body
    payload = _json_object(raw)
    envelope = parse_envelope(event, payload)
    return InboundDelivery(
        guid=guid,
        event=event,
        action=envelope.action,
        installation_id=envelope.installation_id,
        repository=envelope.repository.full_name if envelope.repository else None,
        payload_json=_jsonb_text(raw, payload),
    )


def _token_header(request: Request, name: str, *, missing: str) -> str:
    value = request.headers.get(name)
    if not value:
        raise RequestRejectedError(400, missing)
    if not _TOKEN.fullmatch(value):
        raise RequestRejectedError(400, BAD_HEADER.format(header=name))
    return value


def _json_object(raw: bytes) -> Payload:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestRejectedError(400, NOT_JSON) from None
    if not isinstance(payload, dict):
        raise RequestRejectedError(400, NOT_JSON)
    return payload


def _jsonb_text(raw: bytes, payload: Payload) -> str:
    """The JSON text to store as JSONB.

    Postgres refuses the NUL character in JSONB text, which JSON allows as `\\u0000`; only
    then is the payload written again, with NULs replaced.
    """
    if b"\\u0000" not in raw:
        return raw.decode()
    return orjson.dumps(_without_nul(payload)).decode()


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _form_field(body: bytes, name: str) -> str:
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        fields = {}
    values = fields.get(name)
    if not values:
        raise RequestRejectedError(400, NOT_JSON)
    return values[0]


def _dataflow_delivery(body: bytes) -> InboundDelivery:
    """The status monitor sends no delivery GUID: name it by run and conclusion, so it dedupes."""
    try:
        fields = {key: values[0] for key, values in parse_qs(body.decode()).items()}
    except UnicodeDecodeError:
        raise RequestRejectedError(400, BAD_DATAFLOW) from None
    action, run_id = fields.get("action", ""), fields.get("recipe_run_id", "")
    payload = {
        "action": action,
        "recipe_run_id": int(run_id) if _DIGITS.fullmatch(run_id) else None,
        "conclusion": fields.get("conclusion"),
    }
    try:
        callback = parse_dataflow(payload)
    except PayloadError:
        raise RequestRejectedError(400, BAD_DATAFLOW) from None
    if not (_TOKEN.fullmatch(action) and _TOKEN.fullmatch(callback.conclusion)):
        raise RequestRejectedError(400, BAD_DATAFLOW)
    return InboundDelivery(
        guid=f"{DATAFLOW_EVENT}:{callback.recipe_run_id}:{callback.conclusion}",
        event=DATAFLOW_EVENT,
        action=action,
        installation_id=None,
        repository=None,
        payload_json=orjson.dumps(payload).decode(),
    )
