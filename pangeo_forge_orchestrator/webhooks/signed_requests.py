"""What the two signed receivers share (GitHub deliveries, bakery callbacks).

A refusal raised while reading becomes the answer; the body is read under a size cap, refused
as soon as the cap is known to be passed; answers are JSON written once.
"""

from __future__ import annotations

import re

import orjson
from fastapi import Request, Response

_DIGITS = re.compile(r"[0-9]{1,18}")


class RequestRejectedError(Exception):
    """A request refused with a status and a reason for the sender; nothing was stored."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


async def read_capped_body(request: Request, *, limit: int, too_large: str) -> bytes:
    """The raw body, refused with 413 once it is known to pass `limit` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and _DIGITS.fullmatch(declared) and int(declared) > limit:
        raise RequestRejectedError(413, too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRejectedError(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def json_answer(status_code: int, content: object) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
