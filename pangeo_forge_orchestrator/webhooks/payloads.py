"""GitHub's payloads turned into the typed values of core/events.py.

This is the only module that reads GitHub's JSON shapes; handlers take the values it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pangeo_forge_orchestrator.core.events import (
    Actor,
    ActorKind,
    DataflowCallback,
    Envelope,
    InstallationChanged,
    InstallationRef,
    InstallationRepositoriesChanged,
    Ping,
    RepositoryRef,
)

Payload = Mapping[str, Any]

_ACTOR_KINDS = frozenset(kind.value for kind in ActorKind)


class PayloadError(ValueError):
    """The payload lacks something its event must carry."""


def _mapping(value: object) -> Payload | None:
    return value if isinstance(value, Mapping) else None


def _int(value: object) -> int | None:
    # bool is an int in Python; an id is never true/false.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_repository(value: object) -> RepositoryRef | None:
    repository = _mapping(value)
    if repository is None:
        return None
    full_name = _str(repository.get("full_name"))
    if full_name is not None:
        try:
            return RepositoryRef.from_full_name(full_name)
        except ValueError:
            return None
    owner = _mapping(repository.get("owner"))
    login = _str(owner.get("login")) if owner else None
    name = _str(repository.get("name"))
    return RepositoryRef(owner=login, name=name) if login and name else None


def parse_actor(value: object) -> Actor | None:
    user = _mapping(value)
    login = _str(user.get("login")) if user else None
    if user is None or login is None:
        return None
    kind = user.get("type")
    if isinstance(kind, str) and kind in _ACTOR_KINDS:
        return Actor(login=login, kind=ActorKind(kind))
    return Actor(login=login, kind=None)


def parse_envelope(event: str, payload: Payload) -> Envelope:
    """What any delivery says about itself; tolerant, since it runs before anything is stored."""
    installation = _mapping(payload.get("installation"))
    return Envelope(
        event=event,
        action=_str(payload.get("action")),
        installation_id=_int(installation.get("id")) if installation else None,
        repository=parse_repository(payload.get("repository")),
        sender=parse_actor(payload.get("sender")),
    )


def _installation(payload: Payload) -> InstallationRef:
    installation = _mapping(payload.get("installation"))
    if installation is None:
        raise PayloadError("no installation object")
    installation_id = _int(installation.get("id"))
    if installation_id is None:
        raise PayloadError("installation has no integer id")
    account = _mapping(installation.get("account"))
    login = _str(account.get("login")) if account else None
    if login is None:
        raise PayloadError("installation has no account login")
    return InstallationRef(
        id=installation_id,
        account=login,
        suspended=installation.get("suspended_at") is not None,
    )


def _repository_names(value: object, *, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise PayloadError(f"{key} is not a list")
    names = []
    for item in value:
        repository = _mapping(item)
        full_name = _str(repository.get("full_name")) if repository else None
        if full_name is None:
            raise PayloadError(f"an entry of {key} has no full_name")
        names.append(full_name)
    return tuple(names)


def parse_installation(payload: Payload) -> InstallationChanged:
    action = _str(payload.get("action"))
    if action is None:
        raise PayloadError("no action")
    listed = payload.get("repositories")
    return InstallationChanged(
        action=action,
        installation=_installation(payload),
        # suspend/unsuspend carry no list; null or absent means "unchanged", not "none".
        repositories=None if listed is None else _repository_names(listed, key="repositories"),
    )


def parse_installation_repositories(payload: Payload) -> InstallationRepositoriesChanged:
    action = _str(payload.get("action"))
    if action is None:
        raise PayloadError("no action")
    return InstallationRepositoriesChanged(
        action=action,
        installation=_installation(payload),
        added=_repository_names(payload.get("repositories_added", []), key="repositories_added"),
        removed=_repository_names(
            payload.get("repositories_removed", []), key="repositories_removed"
        ),
    )


def parse_ping(payload: Payload) -> Ping:
    hook = _mapping(payload.get("hook"))
    return Ping(
        zen=_str(payload.get("zen")),
        hook_id=_int(payload.get("hook_id")),
        app_id=_int(hook.get("app_id")) if hook else None,
    )


def parse_dataflow(payload: Payload) -> DataflowCallback:
    recipe_run_id = _int(payload.get("recipe_run_id"))
    conclusion = _str(payload.get("conclusion"))
    if recipe_run_id is None or conclusion is None:
        raise PayloadError("needs an integer recipe_run_id and a conclusion")
    return DataflowCallback(recipe_run_id=recipe_run_id, conclusion=conclusion)
