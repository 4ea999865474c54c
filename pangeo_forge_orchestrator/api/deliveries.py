"""The webhook inbox seen by operators (admin) and, without payloads, per feedstock (public).

Everything comes from our own tables: nothing here calls GitHub (the original proxied GitHub's
delivery log publicly, with the App's credentials).
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from pangeo_forge_orchestrator.api.auth import AUTH_RESPONSES, AdminKey
from pangeo_forge_orchestrator.api.deps import SessionDep
from pangeo_forge_orchestrator.api.paging import MAX_PAGE_SIZE, SortDirection, split_page
from pangeo_forge_orchestrator.api.schemas import INT64_MAX, Timestamp
from pangeo_forge_orchestrator.core.vocabulary import DeliveryStatus, JobStatus
from pangeo_forge_orchestrator.db.queries import PageRequest, iso_utc
from pangeo_forge_orchestrator.db.tables import Delivery, Feedstock, Job
from pangeo_forge_orchestrator.webhooks.inbox import replay_delivery

DELIVERY_NOT_FOUND = "no delivery with GUID {guid!r}"
FEEDSTOCK_NOT_FOUND = "no feedstock with id {feedstock_id}"
ALREADY_QUEUED = "delivery {guid!r} already has a queued or running job"

admin = APIRouter(tags=["admin"], dependencies=[AdminKey], responses=AUTH_RESPONSES)
public = APIRouter(tags=["public"])


def _timestamp(column: Any) -> sa.ColumnElement[str | None]:
    """Timestamps as the rest of the API writes them."""
    return iso_utc(column).label(column.name)


_D = sa.inspect(Delivery).local_table.c
_J = sa.inspect(Job).local_table.c
_PUBLIC_COLUMNS = (
    _D.id,
    _D.guid,
    _D.event,
    _D.action,
    sa.type_coerce(_D.status, sa.String).label("status"),
    _timestamp(_D.received_at),
    _timestamp(_D.handled_at),
)
_ADMIN_COLUMNS = (*_PUBLIC_COLUMNS, _D.repository, _D.installation_id, _D.error)
_JOB_COLUMNS = (
    _J.id,
    _J.kind,
    sa.type_coerce(_J.status, sa.String).label("status"),
    _J.attempts,
    _J.max_attempts,
    _J.last_error,
    _timestamp(_J.run_after),
    _timestamp(_J.created_at),
    _timestamp(_J.finished_at),
)


class PublicDelivery(BaseModel):
    id: int
    guid: str
    event: str
    action: str | None
    status: DeliveryStatus
    received_at: Timestamp
    handled_at: Timestamp | None


class DeliverySummary(PublicDelivery):
    repository: str | None
    installation_id: int | None
    error: str | None


class DeliveryJob(BaseModel):
    id: int
    kind: str
    status: JobStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    run_after: Timestamp
    created_at: Timestamp
    finished_at: Timestamp | None


class DeliveryDetail(DeliverySummary):
    payload: dict[str, Any]
    jobs: list[DeliveryJob]


class Replayed(BaseModel):
    delivery: str
    job_id: int


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
AfterId = Annotated[
    int | None,
    Query(ge=0, le=INT64_MAX, description="keyset paging: rows after this id in `sort` order"),
]
Sort = Annotated[SortDirection, Query(description="by id; newest first by default")]


def _page(
    session: Session,
    columns: tuple[Any, ...],
    *,
    where: list[sa.ColumnElement[bool]],
    page: PageRequest,
    request: Request,
    response: Response,
) -> list[dict[str, Any]]:
    """One page by id, with a `Link: rel="next"` header when more rows follow."""
    if page.after_id is not None:
        where = [*where, _D.id < page.after_id if page.descending else _D.id > page.after_id]
    stmt = (
        sa.select(*columns)
        .where(*where)
        .order_by(_D.id.desc() if page.descending else _D.id)
        .limit(page.limit + 1)
    )
    rows = [dict(row) for row in session.execute(stmt).mappings()]
    rows, headers = split_page(rows, page=page, request=request)
    response.headers.update(headers)
    return rows


def _page_request(*, limit: int, after_id: int | None, sort: SortDirection) -> PageRequest:
    return PageRequest(limit=limit, after_id=after_id, descending=sort is SortDirection.DESC)


@admin.get(
    "/github/hooks/deliveries",
    response_model=list[DeliverySummary],
    summary="Stored webhook deliveries, newest first (no payloads)",
)
def list_deliveries(
    session: SessionDep,
    request: Request,
    response: Response,
    limit: Limit = 50,
    after_id: AfterId = None,
    sort: Sort = SortDirection.DESC,
    event: str | None = None,
    status: DeliveryStatus | None = None,
    repository: Annotated[str | None, Query(description="owner/name")] = None,
) -> list[dict[str, Any]]:
    where = [
        column == value
        for column, value in ((_D.event, event), (_D.status, status), (_D.repository, repository))
        if value is not None
    ]
    page = _page_request(limit=limit, after_id=after_id, sort=sort)
    return _page(
        session, _ADMIN_COLUMNS, where=where, page=page, request=request, response=response
    )


def _delivery_id(session: Session, guid: str) -> int:
    delivery_id = session.execute(sa.select(_D.id).where(_D.guid == guid)).scalar()
    if delivery_id is None:
        raise HTTPException(status_code=404, detail=DELIVERY_NOT_FOUND.format(guid=guid))
    return int(delivery_id)


@admin.get(
    "/github/hooks/deliveries/{guid}",
    response_model=DeliveryDetail,
    summary="One delivery with its payload, its jobs and their errors",
    responses={404: {"description": "Unknown GUID"}},
)
def get_delivery(session: SessionDep, guid: str) -> dict[str, Any]:
    delivery_id = _delivery_id(session, guid)
    row = (
        session.execute(sa.select(*_ADMIN_COLUMNS, _D.payload).where(_D.id == delivery_id))
        .mappings()
        .one()
    )
    jobs = session.execute(
        sa.select(*_JOB_COLUMNS).where(_J.delivery_id == delivery_id).order_by(_J.id)
    ).mappings()
    return {**row, "jobs": [dict(job) for job in jobs]}


@admin.post(
    "/github/hooks/deliveries/{guid}/replay",
    status_code=202,
    response_model=Replayed,
    summary="Queue a delivery's handling again (effects are idempotent)",
    responses={
        404: {"description": "Unknown GUID"},
        409: {"description": "A job for this delivery is already queued or running"},
    },
)
def replay(session: SessionDep, guid: str) -> Replayed:
    delivery_id = _delivery_id(session, guid)
    job_id = replay_delivery(session, delivery_id=delivery_id, guid=guid)
    if job_id is None:
        raise HTTPException(status_code=409, detail=ALREADY_QUEUED.format(guid=guid))
    return Replayed(delivery=guid, job_id=job_id)


@public.get(
    "/feedstocks/{feedstock_id}/deliveries",
    response_model=list[PublicDelivery],
    summary="Webhook deliveries about a feedstock's repository, newest first",
    description="Public, so without payloads, repository details or handling errors.",
    responses={404: {"description": "Unknown feedstock"}},
)
def feedstock_deliveries(
    session: SessionDep,
    request: Request,
    response: Response,
    feedstock_id: int,
    limit: Limit = 50,
    after_id: AfterId = None,
    sort: Sort = SortDirection.DESC,
) -> list[dict[str, Any]]:
    feedstocks = sa.inspect(Feedstock).local_table.c
    spec = session.execute(sa.select(feedstocks.spec).where(feedstocks.id == feedstock_id)).scalar()
    if spec is None:
        raise HTTPException(
            status_code=404, detail=FEEDSTOCK_NOT_FOUND.format(feedstock_id=feedstock_id)
        )
    page = _page_request(limit=limit, after_id=after_id, sort=sort)
    return _page(
        session,
        _PUBLIC_COLUMNS,
        where=[_D.repository == spec],
        page=page,
        request=request,
        response=response,
    )
