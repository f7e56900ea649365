"""Credentials pods read from Secrets, and the pod annotations that roll those pods when a credential changes.

Kubernetes restarts nothing when a Secret's content changes: a container reads its env once, when it starts. So every
pod template that reads a credential carries an annotation whose value changes with that credential, and a new value
rolls exactly the pods that read it. A plain hash would let anyone who can read a Deployment test guesses against the
credential; the annotation is a keyed digest (HMAC-SHA256) under a random key generated once per stack and kept,
encrypted, in its state.
"""

import hashlib
import hmac
from collections.abc import Mapping

import pulumi
from pulumi_kubernetes.core import v1 as core

from components.args import SecretKeyArgs

# The keys of the Secrets the stack makes (MONGO_SECRET_KEY is the one the official chart reads).
MONGO_SECRET_KEY = "mongo-uri"
TRANSPORTER_KEY = "transporter"
MONOLITH_TRANSPORTER_KEY = "monolith-transporter"
LICENSE_KEY = "license"

ROLLOUT_ANNOTATION_PREFIX = "rollout.rocketchat.chat/"
DIGEST_LENGTH = 16
"""Hex characters kept of the HMAC: 64 bits tell one value from the next; the key keeps them from telling more."""


def keyed_digest(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:DIGEST_LENGTH]


def digest_of(key: pulumi.Input[str], value: pulumi.Input[str]) -> pulumi.Output[str]:
    """The keyed digest of a secret value, as a plain (non-secret) output: it reveals nothing without the key."""
    return pulumi.Output.unsecret(pulumi.Output.all(key, value).apply(lambda kv: keyed_digest(kv[0], kv[1])))


def secret_key(name: pulumi.Input[str], key: str, digest: pulumi.Input[str] | None = None) -> SecretKeyArgs:
    return {"name": name, "key": key, **({"digest": digest} if digest is not None else {})}  # type: ignore[typeddict-item]


def secret_env(name: str, source: SecretKeyArgs) -> core.EnvVarArgs:
    return core.EnvVarArgs(
        name=name,
        value_from=core.EnvVarSourceArgs(
            secret_key_ref=core.SecretKeySelectorArgs(name=source["name"], key=source["key"])
        ),
    )


def rollout_annotations(reads: Mapping[str, SecretKeyArgs | None]) -> dict[str, pulumi.Input[str]]:
    """Pod annotations for the credentials a pod reads, by env var name: `rollout.rocketchat.chat/mongo-url`, ..."""
    return {
        ROLLOUT_ANNOTATION_PREFIX + env.lower().replace("_", "-"): source["digest"]
        for env, source in sorted(reads.items())
        if source is not None and source.get("digest") is not None
    }
