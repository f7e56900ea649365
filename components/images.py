"""Image references: the public ones the catalog names, moved to a registry mirror and pinned by digest on request.

A mirror keeps each image's path and drops its registry: `docker.io/rocketchat/account-service` becomes
`<mirror>/rocketchat/account-service`, `registry.rocket.chat/rocketchat/rocket.chat` becomes
`<mirror>/rocketchat/rocket.chat`, Docker Hub's official `nats` stays `library/nats`. That is the layout a pull-through
cache of each registry, or a copy made with `crane copy`/`skopeo copy` (the list: `python -m tools.plan images`), has.
A digest pins the exact image: `<repository>:<tag>@sha256:...` (the tag stays for people; the runtime pulls the
digest).
"""

import re
from dataclasses import dataclass
from typing import NotRequired, TypedDict

DOCKER_HUB = "docker.io"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ImagesArgs(TypedDict):
    registry: NotRequired[str]
    """A mirror (`host[:port][/path]`) that serves every image of the stack under its own path."""
    pull_secrets: NotRequired[list[str]]
    """Names of existing `kubernetes.io/dockerconfigjson` Secrets every pod pulls with."""
    digests: NotRequired[dict[str, str]]
    """Image key (see IMAGE_KEYS) -> `sha256:<64 hex>`: pulled by digest."""


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    """The path in the registry (`rocketchat/rocket.chat`, `library/nats`)."""
    tag: str
    digest: str | None = None

    @property
    def name(self) -> str:
        """Registry and repository: what a chart's `image.repository` takes."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.name}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


def parse(reference: str) -> ImageRef:
    """`[registry/]path:tag`; a reference without a registry is Docker Hub's (and a one-part path its `library/`)."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise ValueError(f"{reference!r} names no tag")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry, path, tag)


def resolve(reference: str, images: ImagesArgs | None, key: str, tag: str | None = None) -> ImageRef:
    """The catalog's `reference` (with `tag` instead of its own, where given), through the mirror, pinned where a
    digest is given for `key`."""
    ref = parse(reference if tag is None else f"{reference}:{tag}")
    images = images or {}
    registry = images.get("registry")
    digest = (images.get("digests") or {}).get(key)
    return ImageRef(registry.rstrip("/") if registry else ref.registry, ref.repository, ref.tag, digest)


def pull_secrets(images: ImagesArgs | None) -> list[dict[str, str]] | None:
    """The pod's `imagePullSecrets`, or None (no field at all) without any."""
    names = (images or {}).get("pull_secrets") or []
    return [{"name": name} for name in names] or None
