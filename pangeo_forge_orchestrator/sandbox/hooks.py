"""The simulator's webhook sender: what GitHub does after an event, signed like GitHub signs.

Events queue in order and one thread posts them, so the service sees them in the order they
happened. Each attempt is recorded as a delivery (GET /app/hook/deliveries), so the service's
missed-delivery recovery works against the sandbox as it does against GitHub. Like GitHub, a
delivery the service refused or failed is not retried by itself (the service asks for a
redelivery); only a refused connection is tried again a few times, since the sandbox may send
while the server is still starting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from typing import Any

import httpx

from pangeo_forge_orchestrator.sandbox.simulator import Simulator
from pangeo_forge_orchestrator.sandbox.state import Delivery, Repo

log = logging.getLogger(__name__)

KEEP_DELIVERIES = 1000
CONNECT_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


class WebhookSender:
    """Post the simulator's events to URL, signed with SECRET; `start()` then `stop()`."""

    def __init__(
        self,
        sim: Simulator,
        *,
        url: str,
        secret: bytes,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.sim = sim
        self.url = url
        self.secret = secret
        self._client = httpx.Client(transport=transport, timeout=30.0)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        sim.state.hook_url = url
        sim.listeners.append(self.on_event)
        sim.redeliver = self.redeliver

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        # A sandbox built but never started (a failed start-up, a test) still stops cleanly.
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        self._client.close()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Whether every queued delivery was attempted within TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def on_event(self, event: str, action: str | None, payload: dict[str, Any], repo: Repo) -> None:
        body = json.dumps(payload)
        guid = str(uuid.uuid4())
        signature = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/sandbox",
            "x-github-event": event,
            "x-github-delivery": guid,
            "x-github-hook-id": "1",
            "x-github-hook-installation-target-type": "integration",
            "x-github-hook-installation-target-id": str(self.sim.app_id),
            "x-hub-signature-256": f"sha256={signature}",
        }
        self._record(
            Delivery(
                id=self.sim.state.new_id(),
                guid=guid,
                event=event,
                action=action,
                installation_id=repo.installation_id,
                repository_id=repo.id,
                delivered_at=self.sim.now(),
                status_code=0,
                body=body,
                headers=headers,
            )
        )

    def redeliver(self, original: Delivery) -> None:
        """Send ORIGINAL's exact bytes again, as a new attempt with the same GUID."""
        with self.sim.lock:
            again = original.model_copy(
                update={"id": self.sim.state.new_id(), "redelivery": True, "status_code": 0}
            )
            self._record(again)

    def _record(self, delivery: Delivery) -> None:
        with self.sim.lock:
            deliveries = self.sim.state.deliveries
            deliveries.append(delivery)
            del deliveries[:-KEEP_DELIVERIES]
        self._queue.put(delivery.id)

    def _run(self) -> None:
        while True:
            delivery_id = self._queue.get()
            try:
                if delivery_id is None:
                    return
                self._deliver(delivery_id)
            except Exception:  # the thread must outlive one bad delivery
                log.exception("sandbox webhook delivery failed")
            finally:
                self._queue.task_done()

    def _deliver(self, delivery_id: int) -> None:
        with self.sim.lock:
            delivery = next((d for d in self.sim.state.deliveries if d.id == delivery_id), None)
        if delivery is None:
            return
        started = time.monotonic()
        status = 0
        for delay in (*CONNECT_RETRY_DELAYS, None):
            try:
                answer = self._client.post(
                    self.url, content=delivery.body.encode(), headers=delivery.headers
                )
                status = answer.status_code
                break
            except httpx.TransportError as exc:
                log.warning("sandbox webhook not delivered: %s", exc)
                if delay is None:
                    status = 502
                    break
                time.sleep(delay)
        with self.sim.lock:
            delivery.status_code = status
            delivery.duration = round(time.monotonic() - started, 3)
            delivery.delivered_at = self.sim.now()
            self.sim.save()
        log.info(
            "sandbox webhook sent",
            extra={"event": delivery.event, "action": delivery.action, "status": status},
        )
