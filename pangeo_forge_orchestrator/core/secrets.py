"""Secrets in configuration: `${VAR}` resolution, revealing for the runner, redaction.

Every value resolved from the environment is a secret: a `SecretStr` (hidden from repr), given
in plain text only to the runner's 0600 config file and environment, and replaced by `***` in
anything kept or shown (run logs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import SecretStr

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Secrets this short would turn every "us" or "1" of a log into "***" and protect nothing.
MIN_REDACTED_LENGTH = 4
REDACTED = "***"

# A runner_config tree after resolution: plain JSON, with SecretStr where the environment spoke.
ConfigValue: TypeAlias = (
    str | SecretStr | int | float | bool | list["ConfigValue"] | dict[str, "ConfigValue"] | None
)


def redact(text: str, secrets: Iterable[SecretStr]) -> str:
    """Replace every secret value in text with `***`, as written and as JSON escapes it."""
    forms: set[str] = set()
    for secret in secrets:
        value = secret.get_secret_value()
        if len(value) >= MIN_REDACTED_LENGTH:
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])
    # Longest first, so that a secret containing another is replaced whole.
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def reveal(tree: Mapping[str, ConfigValue]) -> dict[str, Any]:
    """The plain runner_config, secrets included: only for the runner's 0600 config file."""

    def plain(value: ConfigValue) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return {key: plain(value) for key, value in tree.items()}


@dataclass
class EnvResolver:
    """Resolve `${VAR}` references from environ; record problems and the secrets seen."""

    environ: Mapping[str, str]
    problems: list[str]
    secrets: list[SecretStr]

    def string(self, value: str, path: str) -> str | SecretStr:
        if not ENV_REFERENCE.search(value):
            return value
        missing = [n for n in ENV_REFERENCE.findall(value) if n not in self.environ]
        if missing:
            self.problems.append(f"{path}: environment variable {missing[0]} is not set")
            return value
        for name in ENV_REFERENCE.findall(value):
            self.secrets.append(SecretStr(self.environ[name]))
        resolved = ENV_REFERENCE.sub(lambda m: self.environ[m.group(1)], value)
        return SecretStr(resolved)

    def tree(self, value: Any, path: str) -> ConfigValue:
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, dict):
            return {str(k): self.tree(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v, f"{path}.{i}") for i, v in enumerate(value)]
        if value is None or isinstance(value, bool | int | float):
            return value
        self.problems.append(f"{path}: must be a string, number, boolean, list or mapping")
        return None
