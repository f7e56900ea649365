"""Reading the running stack's config through the Pulumi runtime, and decoding it from Pulumi's string form."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stack_config.diagnostics import CONFIG_NAMESPACE, SECRET_KEYS, SECRET_MAPS
from stack_config.rules import PROVIDER_PREFIX

# Plain strings in the stack file; never JSON-decoded (so `version: 8.0` stays the text "8.0" and is rejected).
_STRING_KEYS = frozenset(
    {"mode", "host", "namespace", "version", "instance", "trustedCA", *set(SECRET_KEYS) - set(SECRET_MAPS)}
)


def read_stack_config() -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    """All `rocketchat:*` keys of the running stack (decoded from Pulumi's string form), the secret ones, and the
    Kubernetes provider's settings (`kubernetes:*`).

    Reads the whole config bag rather than known keys one by one, so that a misspelt key is seen and rejected.
    """
    from pulumi.runtime import config as runtime_config

    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    secret_keys = {key for key in every if key in env_secrets or runtime_config.is_config_secret(key)}
    return decode_stack_config(every, secret_keys)


def decode_stack_config(
    config: Mapping[str, Any], secret_keys: Iterable[str]
) -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    """Full keys as Pulumi hands them over (`rocketchat:host` -> its string form) to this project's keys and values,
    decoded, and which of them are secret; then the `kubernetes:` keys (the provider's settings), as they are."""
    prefix = f"{CONFIG_NAMESPACE}:"
    raw = {
        key[len(prefix) :]: _decode(key[len(prefix) :], value)
        for key, value in config.items()
        if key.startswith(prefix)
    }
    provider = {
        key.removeprefix(PROVIDER_PREFIX): value for key, value in config.items() if key.startswith(PROVIDER_PREFIX)
    }
    return raw, {key[len(prefix) :] for key in secret_keys if key.startswith(prefix)}, provider


def _decode(key: str, value: Any) -> Any:
    """Pulumi hands every config value over as a string; objects, numbers and booleans as JSON text."""
    if key in _STRING_KEYS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
