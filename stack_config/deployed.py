"""What the stack's last `pulumi up` left running, read through the engine before anything is registered.

A few changes cannot be made safely in one update because of what already runs (a mode switch whose new objects
would take the names of the old ones; a new instance name, which would recreate NATS). The program reads its own
stack's last deployment, as a stack reference to itself would, and refuses such a change before anything happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.catalog import DEFAULT_INSTANCE as DEFAULT_RAW_INSTANCE
from components.tokens import RELEASE_TYPE, STACK_TYPE


@dataclass(frozen=True)
class Deployed:
    """The stack as its last update left it."""

    mode: str
    instance: str
    """Names and labels its own objects (NATS, Secrets, NetworkPolicies, Ingress, raw workloads)."""
    release_name: str | None
    """The chart's Helm release, in helm mode."""


def deployed_from(outputs: Mapping[str, Any], resources: Mapping[str, Mapping[str, Any]]) -> Deployed | None:
    """The last deployment from the stack's outputs and its resources' outputs (URN -> {type, outputs}), as the
    engine gives them; None for a stack that has never been deployed."""
    mode = outputs.get("mode")
    if mode not in ("raw", "helm"):
        return None
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources.values():
        by_type.setdefault(resource.get("type", ""), []).append(resource.get("outputs") or {})
    releases = [r.get("name") for r in by_type.get(RELEASE_TYPE, []) if r.get("name")]
    release = releases[0] if releases else None
    component = (by_type.get(STACK_TYPE) or [{}])[0]
    # Deployments made before the component recorded its instance: it was the release name or the raw default.
    instance = component.get("instance") or (release if mode == "helm" else DEFAULT_RAW_INSTANCE)
    return Deployed(mode=mode, instance=instance or DEFAULT_RAW_INSTANCE, release_name=release)


def read_deployed() -> Deployed | None:
    """This stack's last deployment, through the engine's built-in provider (what a stack reference reads)."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    outputs = pulumi.runtime.invoke("pulumi:pulumi:readStackOutputs", {"name": stack}).value or {}
    if not (outputs.get("outputs") or {}).get("mode"):
        return None  # never deployed (or by something else): nothing to collide with
    resources = pulumi.runtime.invoke("pulumi:pulumi:readStackResourceOutputs", {"stackName": stack}).value or {}
    return deployed_from(outputs["outputs"], resources.get("outputs") or {})
