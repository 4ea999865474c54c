"""The soak's senders (bench/soak.py): GitHub plus our missed-delivery recovery.

A send that gets no 202 (refused, reset, 5xx, timeout) is tried again later with the same GUID
and body, until a 202 acknowledges it; a sender that could not reach the server pauses before
its next send. The ledger keeps what the senders were told, for the verdict.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.soak_plan import Send

HOOKS = "/github/hooks/"
LATER_DELAY_S = (0.5, 5.0)
# GitHub would not hammer a dead endpoint either; the failed send comes back after its backoff.
PAUSE_AFTER_FAILURE_S = (0.05, 0.15)
RETRY_BACKOFF_S = (0.05, 2.0)
ACKNOWLEDGED = "acknowledged"
REJECTED = "rejected"


@dataclass
class Ledger:
    """What the senders saw: per GUID the 202s, and why the other attempts failed."""

    acknowledged: set[str] = field(default_factory=set)
    new_answers: Counter[str] = field(default_factory=Counter)
    duplicate_answers: int = 0
    sends_acknowledged: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    retried_sends: int = 0
    rejected: list[str] = field(default_factory=list)
    in_flight: int = 0

    def guids_acknowledged_new_twice(self) -> list[str]:
        return sorted(guid for guid, n in self.new_answers.items() if n > 1)


class Senders:
    """Concurrent senders over one keep-alive pool, draining a schedule of sends."""

    def __init__(
        self, base_url: str, *, senders: int, timeout_s: float, rng: random.Random
    ) -> None:
        self.base_url = base_url
        self.senders = senders
        self.timeout_s = timeout_s
        self.rng = rng
        self.ledger = Ledger()
        self._due: list[tuple[float, int, Send]] = []
        self._sequence = 0
        self._pending = 0
        self._changed = asyncio.Event()
        self._later: dict[str, Send] = {}

    async def send_all(self, sends: list[Send], *, later: dict[str, Send] | None = None) -> None:
        """Send everything (and each `later` duplicate after its original's first 202)."""
        self._later = dict(later or {})
        now = time.monotonic()
        for send in sends:
            self._push(send, now)
        self._pending += len(self._later)
        limits = httpx.Limits(max_connections=self.senders, max_keepalive_connections=self.senders)
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=self.timeout_s
        ) as client:
            await asyncio.gather(*(self._sender(client) for _ in range(self.senders)))

    def _push(self, send: Send, due: float) -> None:
        self._sequence += 1
        self._pending += 1
        heapq.heappush(self._due, (due, self._sequence, send))
        self._changed.set()

    async def _next(self) -> Send | None:
        while True:
            if self._pending == 0:
                return None
            wait = 1.0
            if self._due:
                due, _, send = self._due[0]
                wait = due - time.monotonic()
                if wait <= 0:
                    heapq.heappop(self._due)
                    return send
            self._changed.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def _sender(self, client: httpx.AsyncClient) -> None:
        while (send := await self._next()) is not None:
            outcome = await self._attempt(client, send)
            if outcome in (ACKNOWLEDGED, REJECTED):
                self._done(send)
                continue
            self.ledger.failures[outcome] += 1
            if send.attempts == 1:
                self.ledger.retried_sends += 1
            low, high = RETRY_BACKOFF_S
            backoff = min(high, low * 2 ** (send.attempts - 1)) * self.rng.uniform(0.5, 1.0)
            self._pending -= 1  # _push counts it again
            self._push(send, time.monotonic() + backoff)
            await asyncio.sleep(self.rng.uniform(*PAUSE_AFTER_FAILURE_S))

    async def _attempt(self, client: httpx.AsyncClient, send: Send) -> str:
        """One POST: acknowledged, rejected (4xx), or why it failed (then it is retried)."""
        delivery = send.delivery
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": delivery.event,
            "X-GitHub-Delivery": delivery.guid,
            "X-Hub-Signature-256": delivery.signature,
        }
        send.attempts += 1
        self.ledger.attempts += 1
        self.ledger.in_flight += 1
        try:
            response = await client.post(HOOKS, content=delivery.body, headers=headers)
        except httpx.ConnectError:
            return "refused"
        except httpx.TimeoutException:
            return "timeout"
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            return "reset"
        finally:
            self.ledger.in_flight -= 1
        if response.status_code == 202:
            self._acknowledged(send, response.json())
            return ACKNOWLEDGED
        if response.status_code >= 500:
            return f"http_{response.status_code}"
        # A 4xx is the harness's fault or the service's, never a transient: stop sending it.
        self.ledger.rejected.append(f"{delivery.guid}: {response.status_code} {response.text}")
        if self._later.pop(delivery.guid, None) is not None:
            self._pending -= 1
        return REJECTED

    def _acknowledged(self, send: Send, answer: dict[str, object]) -> None:
        guid = send.delivery.guid
        ledger = self.ledger
        ledger.sends_acknowledged[send.kind] += 1
        if answer.get("duplicate") is False:
            ledger.new_answers[guid] += 1
        else:
            ledger.duplicate_answers += 1
        if guid not in ledger.acknowledged:
            ledger.acknowledged.add(guid)
            later = self._later.pop(guid, None)
            if later is not None:
                self._pending -= 1  # counted in send_all; _push counts it again
                self._push(later, time.monotonic() + self.rng.uniform(*LATER_DELAY_S))

    def _done(self, send: Send) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._changed.set()
