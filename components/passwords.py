"""GeneratedPassword: a random credential made once per stack and kept, encrypted, in the Pulumi state.

A Python dynamic provider rather than the `random` provider: it runs inside the Python language host, so a stack
needs no extra provider plugin (the `random` plugin cannot be built from Go modules, which matters wherever plugins
cannot be downloaded). The value is generated in `create` only, so it is stable across updates, and it is a
secret output: previews, state and logs show it as `[secret]`.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import pulumi
import pulumi.dynamic

# Letters and digits only: the password goes into URLs (TRANSPORTER, MONGO_URL) and config files unescaped.
ALPHABET = string.ascii_letters + string.digits
PASSWORD_TYPE = "pulumi-python:dynamic/rocketchat:GeneratedPassword"


def generate(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


class _PasswordProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        length = int(props["length"])
        return pulumi.dynamic.CreateResult(
            id_=secrets.token_hex(8), outs={"length": length, "result": generate(length)}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # Only a different length makes a new password; nothing else about it can change.
        changed = int(olds["length"]) != int(news["length"])
        return pulumi.dynamic.DiffResult(changes=changed, replaces=["length"] if changed else [])


class GeneratedPassword(pulumi.dynamic.Resource, module="rocketchat", name="GeneratedPassword"):
    """Outputs: `result`, the password (a secret)."""

    result: pulumi.Output[str]

    def __init__(self, name: str, length: int = 32, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["result"]))
        super().__init__(_PasswordProvider(), name, {"length": length, "result": None}, opts)
