"""Map (event, action) to a handler: event modules fill `EventRoutes`; a `Router` joins them.

A handler receives a context and the typed value its parser made of the payload, and says what
handling came to (`Outcome`). Transient trouble is raised instead, so the job is retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pangeo_forge_orchestrator.core.events import (
    MALFORMED_PAYLOAD_REASON,
    Envelope,
    Failed,
    Ignored,
    Outcome,
    screen_delivery,
)
from pangeo_forge_orchestrator.db.engine import Database
from pangeo_forge_orchestrator.settings import Settings
from pangeo_forge_orchestrator.webhooks.payloads import Payload, PayloadError, parse_envelope

E = TypeVar("E")


class HandlerContext(Protocol):
    """What handlers may use; the worker's JobContext is one."""

    @property
    def settings(self) -> Settings: ...

    @property
    def database(self) -> Database: ...


Handler = Callable[[HandlerContext, E], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route(Generic[E]):
    event: str
    action: str | None  # None: any action, or an event that has none (ping, push)
    parse: Callable[[Payload], E]
    handle: Handler[E]
    feedstock_only: bool


class EventRoutes:
    """The handlers of one event, registered with `@routes.on(...)`."""

    def __init__(self, event: str) -> None:
        self.event = event
        self.routes: list[Route[Any]] = []

    def on(
        self, *actions: str, parse: Callable[[Payload], E], feedstock_only: bool
    ) -> Callable[[Handler[E]], Handler[E]]:
        """Register a handler for these actions (none given: every delivery of the event).

        `feedstock_only` handlers never see deliveries from repositories outside the feedstock
        patterns; installation and ping handlers see all.
        """

        def register(handle: Handler[E]) -> Handler[E]:
            for action in actions or (None,):
                self.routes.append(
                    Route(
                        event=self.event,
                        action=action,
                        parse=parse,
                        handle=handle,
                        feedstock_only=feedstock_only,
                    )
                )
            return handle

        return register

    def __iter__(self) -> Iterator[Route[Any]]:
        return iter(self.routes)


class Router:
    """Every event module's routes in one table."""

    def __init__(self, *groups: EventRoutes) -> None:
        self._routes: dict[tuple[str, str | None], Route[Any]] = {}
        for group in groups:
            for route in group:
                key = (route.event, route.action)
                if key in self._routes:
                    raise ValueError(f"two handlers for {key}")
                self._routes[key] = route

    def route_for(self, event: str, action: str | None) -> Route[Any] | None:
        """The handler for this action, else the event's catch-all handler, else None."""
        return self._routes.get((event, action)) or self._routes.get((event, None))

    def screen(self, envelope: Envelope, *, patterns: Sequence[str]) -> Route[Any] | Ignored:
        """The route that takes this delivery, or why none does (no payload needed)."""
        route = self.route_for(envelope.event, envelope.action)
        ignored = screen_delivery(
            envelope,
            has_handler=route is not None,
            feedstock_only=route is not None and route.feedstock_only,
            patterns=patterns,
        )
        if ignored is not None:
            return ignored
        assert route is not None  # screen_delivery ignores every delivery without a handler
        return route

    async def run(
        self, ctx: HandlerContext, route: Route[Any], *, envelope: Envelope, payload: Payload
    ) -> Outcome:
        """Parse the payload into the route's typed value and hand it to the handler."""
        try:
            value = route.parse(payload)
        except PayloadError as exc:
            # Retrying cannot fix a payload, so this is an outcome rather than an exception.
            return Failed(
                MALFORMED_PAYLOAD_REASON.format(event_action=envelope.event_action, problem=exc)
            )
        outcome: Outcome = await route.handle(ctx, value)
        return outcome

    async def dispatch(self, ctx: HandlerContext, *, event: str, payload: Payload) -> Outcome:
        """Screen, parse and handle a delivery whose payload is at hand."""
        envelope = parse_envelope(event, payload)
        decision = self.screen(envelope, patterns=ctx.settings.feedstock_repo_patterns)
        if isinstance(decision, Ignored):
            return decision
        return await self.run(ctx, decision, envelope=envelope, payload=payload)
