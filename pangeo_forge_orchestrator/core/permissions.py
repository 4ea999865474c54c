"""Who may make the service run pull-request code: write access to the base repository.

GitHub's "get repository permissions for a user" answers `permission`, the legacy base role
(`admin`, `write`, `read`, `none`; `maintain` is reported as `write` and `triage` as `read`),
and `role_name`, the role actually assigned (`maintain`, `triage` and custom roles included).
A custom role inherits its base role, so `permission` decides; `role_name` is what we show.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pangeo_forge_orchestrator.core.events import ActorKind
from pangeo_forge_orchestrator.core.policy import DEFAULT_POLICY

NO_ACCESS = "none"


@dataclass(frozen=True, slots=True)
class CollaboratorPermission:
    permission: str
    role_name: str | None = None

    @classmethod
    def from_response(cls, data: Mapping[str, object]) -> CollaboratorPermission:
        """Read GitHub's response; anything unexpected counts as no access."""
        permission = data.get("permission")
        role_name = data.get("role_name")
        return cls(
            permission=permission if isinstance(permission, str) else NO_ACCESS,
            role_name=role_name if isinstance(role_name, str) and role_name else None,
        )

    @property
    def level(self) -> str:
        """The role to name in a refusal: the assigned one when GitHub says it."""
        return self.role_name or self.permission


@dataclass(frozen=True, slots=True)
class Allowed:
    pass


@dataclass(frozen=True, slots=True)
class Refused:
    """A person without write access: they get a polite reply and nothing runs."""

    level: str


@dataclass(frozen=True, slots=True)
class BotSender:
    """Bots (ours included) are never acted on and never answered, so no loop can start."""


Verdict = Allowed | Refused | BotSender


def is_bot(*, login: str, kind: ActorKind | None) -> bool:
    # GitHub Apps comment as `name[bot]` with type Bot; the suffix guards payloads lacking type.
    return kind is ActorKind.BOT or login.lower().endswith("[bot]")


def may_run_code(
    *,
    login: str,
    kind: ActorKind | None,
    permission: CollaboratorPermission | None,
    allowed: Collection[str] = DEFAULT_POLICY.run_permissions,
) -> Verdict:
    """Decide whether this sender's request may run code.

    - bots: never (silently);
    - `permission` (or the assigned `role_name`) admin, maintain or write: yes;
    - read, triage, none, or not a collaborator (`permission` None): refused.
    """
    if is_bot(login=login, kind=kind):
        return BotSender()
    if permission is None:
        return Refused(NO_ACCESS)
    granted = {permission.permission.lower()}
    if permission.role_name:
        granted.add(permission.role_name.lower())
    if granted & {level.lower() for level in allowed}:
        return Allowed()
    return Refused(permission.level)
