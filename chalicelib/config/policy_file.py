"""The policy as the operator writes it: a TOML file of overrides on the default profile."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from chalicelib.domain.errors import InputError
from chalicelib.domain.policy import Policy, describe_validation_error


def load_policy(path: str | Path | None) -> Policy:
    """The default profile, or the profile with the overrides from a TOML file."""
    if path is None:
        return Policy()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: policy file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {describe_validation_error(exc)}") from None
