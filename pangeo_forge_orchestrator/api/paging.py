"""List parameters (offset, limit, order_by, sort, after_id) and the `Link: rel="next"` header.

Keyset paging: `after_id=N` returns the rows after id N in the chosen direction (`id > N` with
`sort=asc`, `id < N` with `sort=desc`). It pages by id, so it needs `order_by=id` (the default)
and no `offset`. Every full page carries a `Link` header to the next one: keyset when ordered by
id, offset otherwise. Links are relative references (RFC 8288 §3.2), so they stay right behind
proxies that rewrite the scheme or host.
"""

# No `from __future__ import annotations`: FastAPI must evaluate the annotations of the
# dependency built in page_parameters, and they refer to its local variables.

from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError

from pangeo_forge_orchestrator.api.schemas import INT32_MAX, INT64_MAX
from pangeo_forge_orchestrator.db.queries import PageRequest

MAX_PAGE_SIZE = 100

UNKNOWN_ORDER_BY = "order_by must be a column of this list: {columns}"
AFTER_ID_NEEDS_ID_ORDER = (
    "after_id pages by id: use it with order_by=id (the default), or page with offset"
)
AFTER_ID_WITH_OFFSET = "use either after_id (keyset paging) or offset, not both"


class SortDirection(StrEnum):
    ASC = "asc"
    DESC = "desc"


def invalid_query(name: str, message: str, value: object) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


def page_parameters(columns: Sequence[str]) -> Callable[..., Awaitable[PageRequest]]:
    """A dependency reading a list's paging parameters, with `order_by` among `columns`."""
    allowed = tuple(columns)
    unknown_order = UNKNOWN_ORDER_BY.format(columns=", ".join(allowed))

    # async: pure validation, so it runs on the event loop instead of a threadpool hop.
    async def page_request(
        offset: Annotated[
            int, Query(ge=0, le=INT32_MAX, description="rows to skip (prefer after_id)")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
        order_by: Annotated[
            str, Query(description="a column of the rows", json_schema_extra={"enum": allowed})
        ] = "id",
        sort: SortDirection = SortDirection.ASC,
        after_id: Annotated[
            int | None,
            Query(ge=0, le=INT64_MAX, description="keyset paging: rows after this id"),
        ] = None,
    ) -> PageRequest:
        if order_by not in allowed:
            raise invalid_query("order_by", unknown_order, order_by)
        if after_id is not None and order_by != "id":
            raise invalid_query("after_id", AFTER_ID_NEEDS_ID_ORDER, after_id)
        if after_id is not None and offset:
            raise invalid_query("offset", AFTER_ID_WITH_OFFSET, offset)
        return PageRequest(
            order_by=order_by,
            descending=sort is SortDirection.DESC,
            offset=offset,
            limit=limit,
            after_id=after_id,
        )

    return page_request


def split_page(
    rows: list[dict[str, Any]], *, page: PageRequest, request: Request
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The page's rows and its headers, from rows fetched with one extra row past the page."""
    if len(rows) <= page.limit:
        return rows, {}
    rows = rows[: page.limit]
    url = request.url
    if page.order_by == "id":
        url = url.remove_query_params(["offset", "after_id"]).include_query_params(
            after_id=rows[-1]["id"]
        )
    else:
        url = url.include_query_params(offset=page.offset + page.limit)
    target = url.path + (f"?{url.query}" if url.query else "")
    return rows, {"Link": f'<{target}>; rel="next"'}
