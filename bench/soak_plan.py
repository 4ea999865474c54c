"""The soak's deliveries and duplicates, planned up front from the seed (bench/soak.py).

Every event chosen finishes without GitHub: `ping` and `installation` run their handlers (the
second upserts an `installation` row), while `pull_request`, `issue_comment` (on a repository
that is not a feedstock) and `star` (no handler) are screened out and marked ignored.
Duplicates re-send a GUID and its body: next to the original (in flight together), a few
seconds after its first 202, or after the whole queue has drained.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from enum import StrEnum

from pangeo_forge_orchestrator.webhooks.signature import signature_for

# Shares of the traffic by event; the ones in HANDLED_EVENTS end `handled`, the rest `ignored`.
EVENT_MIX = (
    ("pull_request", 0.50),
    ("ping", 0.15),
    ("installation", 0.15),
    ("issue_comment", 0.10),
    ("star", 0.10),
)
HANDLED_EVENTS = frozenset({"ping", "installation"})
# How duplicates split: in flight with the original, a little later, after the drain.
DUPLICATE_MIX = (("concurrent", 0.4), ("later", 0.4), ("after_drain", 0.2))
FILLER = "Soak-test pull request body: this line pads the payload toward a realistic size. "


class SendKind(StrEnum):
    ORIGINAL = "original"
    CONCURRENT = "concurrent"
    LATER = "later"
    AFTER_DRAIN = "after_drain"


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One signed delivery; every send of its GUID carries these exact bytes."""

    guid: str
    event: str
    body: bytes
    signature: str


@dataclass(slots=True)
class Send:
    delivery: Delivery
    kind: SendKind
    attempts: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficPlan:
    deliveries: list[Delivery]
    main: list[Send]  # originals, each concurrent duplicate right after its original
    later: dict[str, Send]  # by GUID: sent a little after the original's first 202
    after_drain: list[Send]
    installation_account: str


def plan_traffic(
    *, run: str, count: int, duplicate_share: float, secret: str, rng: random.Random
) -> TrafficPlan:
    """`count` distinct deliveries of run `run`, and duplicates of a `duplicate_share` of them."""
    account = f"soak-{run}"
    # Installation ids of this run only (a shared database may hold other runs' rows).
    installation_base = 9_000_000_000_000 + int(run, 16) % 1_000_000 * 1_000_000
    events = [name for name, _ in EVENT_MIX]
    weights = [share for _, share in EVENT_MIX]
    deliveries = []
    for index in range(count):
        event = rng.choices(events, weights)[0]
        payload = _payload(event, index=index, run=run, rng=rng)
        if event == "installation":
            payload["installation"] = {
                "id": installation_base + index,
                "account": {"login": account},
                "suspended_at": None,
            }
        body = json.dumps(payload).encode()
        deliveries.append(
            Delivery(
                guid=f"soak-{run}-{index:06d}",
                event=event,
                body=body,
                signature=signature_for(body, secret.encode()),
            )
        )
    duplicated = rng.sample(deliveries, round(count * duplicate_share))
    kinds = [SendKind(name) for name, _ in DUPLICATE_MIX]
    shares = [share for _, share in DUPLICATE_MIX]
    duplicate_kind = {d.guid: rng.choices(kinds, shares)[0] for d in duplicated}
    main: list[Send] = []
    later: dict[str, Send] = {}
    after_drain: list[Send] = []
    for delivery in deliveries:
        main.append(Send(delivery, SendKind.ORIGINAL))
        match duplicate_kind.get(delivery.guid):
            case SendKind.CONCURRENT:
                main.append(Send(delivery, SendKind.CONCURRENT))
            case SendKind.LATER:
                later[delivery.guid] = Send(delivery, SendKind.LATER)
            case SendKind.AFTER_DRAIN:
                after_drain.append(Send(delivery, SendKind.AFTER_DRAIN))
    return TrafficPlan(
        deliveries=deliveries,
        main=main,
        later=later,
        after_drain=after_drain,
        installation_account=account,
    )


def _payload(event: str, *, index: int, run: str, rng: random.Random) -> dict[str, object]:
    # Not a feedstock and not staged-recipes: the worker screens these out without GitHub.
    repository = {
        "id": 1000 + index,
        "name": f"{run}-app",
        "full_name": f"soak-org/{run}-app",
        "owner": {"login": "soak-org", "type": "Organization"},
    }
    sender = {"login": "soak-bot", "type": "Bot"}
    installation = {"id": 1, "account": {"login": "soak-org"}, "suspended_at": None}
    match event:
        case "ping":
            return {"zen": "Keep it logically awesome.", "hook_id": index, "hook": {"app_id": 1}}
        case "installation":
            repositories = [{"full_name": f"soak-org/repo-{index}-{n}"} for n in range(3)]
            return {
                "action": "created",
                "installation": installation,
                "repositories": repositories,
                "sender": sender,
            }
        case "pull_request":
            pull = {
                "number": index,
                "title": f"Soak change {index}",
                "body": FILLER * rng.randint(5, 250),
                "draft": False,
                "head": {"sha": f"{rng.getrandbits(160):040x}", "ref": f"soak-{index}"},
                "base": {"ref": "main"},
                "user": sender,
            }
            return {
                "action": "opened",
                "number": index,
                "pull_request": pull,
                "repository": repository,
                "installation": installation,
                "sender": sender,
            }
        case "issue_comment":
            return {
                "action": "created",
                "issue": {"number": index, "pull_request": {"url": "unused"}},
                "comment": {"id": index, "body": "/run soak-recipe", "user": sender},
                "repository": repository,
                "installation": installation,
                "sender": sender,
            }
        case _:
            return {"action": "created", "repository": repository, "sender": sender}
