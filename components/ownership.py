"""Which stack owns an object: recorded on every Kubernetes object a stack makes.

Server-side apply makes a create an upsert (the provider sends an apply patch, and `pulumi.com/patchForce` takes every
field over), so nothing in the API refuses a second stack that names an object the first one made. The owner recorded
here is what a program reads before it registers anything, to refuse that update (this program's
`stack_config.ownership`), and what a person reads with `kubectl get -o yaml` to know whose an object is.

It is an annotation: nothing selects on it, so adding it to an existing object changes no selector and rolls no pod.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi

OWNER_ANNOTATION = "rocketchat.chat/owned-by"
"""`<organization>/<project>/<stack>` of the Pulumi stack that made the object."""


def stack_owner(organization: str, project: str, stack: str) -> str:
    return f"{organization}/{project}/{stack}"


def owned_by(owner: str) -> pulumi.ResourceTransformation:
    """A transformation stamping `owner` on every Kubernetes object of a component tree (set on the top component:
    its children inherit it), whichever component made the object."""

    def stamp(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("kubernetes:") or "metadata" not in args.props or args.opts.id:
            # Components, the Helm release (Helm records its own owner), the generated passwords, and objects only
            # read (a Gateway someone else owns).
            return None
        props = dict(args.props)
        props["metadata"] = with_annotation(props["metadata"], OWNER_ANNOTATION, owner)
        return pulumi.ResourceTransformationResult(props, args.opts)

    return stamp


def with_annotation(metadata: Any, key: str, value: str) -> Any:
    """Object metadata (an ObjectMetaArgs, a dict or nothing) with one annotation more, the rest as it was."""
    if metadata is None:
        return {"annotations": {key: value}}
    if isinstance(metadata, dict):
        return {**metadata, "annotations": _merged(metadata.get("annotations"), key, value)}
    stamped = copy.copy(metadata)
    pulumi.set(stamped, "annotations", _merged(pulumi.get(metadata, "annotations"), key, value))
    return stamped


def _merged(annotations: Any, key: str, value: str) -> Any:
    if annotations is None or isinstance(annotations, dict):
        return {**(annotations or {}), key: value}
    return pulumi.Output.from_input(annotations).apply(lambda given: {**(given or {}), key: value})
