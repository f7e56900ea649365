"""What the stack's last `pulumi up` left running, read through the engine before anything is registered.

A few changes cannot be made safely in one update because of what already runs (a mode switch whose new objects
would take the names of the old ones; a new instance name, which would recreate NATS). The program reads its own
stack's last deployment, as a stack reference to itself would, and refuses such a change before anything happens.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.catalog import DEFAULT_INSTANCE as DEFAULT_RAW_INSTANCE
from components.inventory import HELM_RELEASE, ObjectRef
from components.stack import MONGO_NAME, NATS_NAME
from components.tokens import RELEASE_TYPE, STACK_TYPE

MONGO_COMPONENT = "rocketchat:index:MongoReplicaSet"
NATS_COMPONENT = "rocketchat:index:NatsCluster"
STATEFULSET_TYPE = "kubernetes:apps/v1:StatefulSet"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"


@dataclass(frozen=True)
class InClusterDatabase:
    """The stack's own MongoDB (raw mode's MongoReplicaSet) as it runs: where its data lives."""

    namespace: str
    statefulset: str
    replicas: int
    storage: str | None
    storage_class_name: str | None

    @property
    def claims(self) -> list[str]:
        """The PersistentVolumeClaims its StatefulSet made, one per member (`data-<statefulset>-<ordinal>`)."""
        return [f"data-{self.statefulset}-{i}" for i in range(self.replicas)]


@dataclass(frozen=True)
class Deployed:
    """The stack as its last update left it."""

    mode: str
    instance: str
    """Names and labels its own objects (NATS, Secrets, NetworkPolicies, Ingress, raw workloads)."""
    release_name: str | None
    """The chart's Helm release, in helm mode."""
    namespace: str | None = None
    namespace_created: bool = False
    """The stack made its namespace (and deletes it, with everything in it, when it stops making it)."""
    database: InClusterDatabase | None = None
    legacy_names: bool = False
    """NATS or MongoDB still carry the fixed names of stacks made before the instance named them."""
    objects: frozenset[ObjectRef] = field(default_factory=frozenset)
    """Every Kubernetes object (and Helm release) the stack's state holds: its own, whatever they carry."""


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
    statefulsets = {
        component_type: _metadata(resource)
        for urn, resource in resources.items()
        if resource.get("type") == STATEFULSET_TYPE
        for component_type in (MONGO_COMPONENT, NATS_COMPONENT)
        if f"{component_type}$" in urn
    }
    return Deployed(
        mode=mode,
        instance=instance or DEFAULT_RAW_INSTANCE,
        release_name=release,
        namespace=outputs.get("namespace"),
        namespace_created=bool(by_type.get(NAMESPACE_TYPE)),
        database=_database(resources),
        legacy_names=statefulsets.get(NATS_COMPONENT, {}).get("name") == NATS_NAME
        or statefulsets.get(MONGO_COMPONENT, {}).get("name") == MONGO_NAME,
        objects=frozenset(_objects(resources)),
    )


def _metadata(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    return (resource.get("outputs") or {}).get("metadata") or {}


def _database(resources: Mapping[str, Mapping[str, Any]]) -> InClusterDatabase | None:
    for urn, resource in resources.items():
        if resource.get("type") != STATEFULSET_TYPE or f"{MONGO_COMPONENT}$" not in urn:
            continue
        spec = (resource.get("outputs") or {}).get("spec") or {}
        templates = spec.get("volumeClaimTemplates") or [{}]
        claim = templates[0].get("spec") or {}
        metadata = _metadata(resource)
        return InClusterDatabase(
            namespace=metadata.get("namespace", ""),
            statefulset=metadata.get("name", MONGO_NAME),
            replicas=int(spec.get("replicas", 1)),
            storage=((claim.get("resources") or {}).get("requests") or {}).get("storage"),
            storage_class_name=claim.get("storageClassName"),
        )
    return None


def _objects(resources: Mapping[str, Mapping[str, Any]]) -> list[ObjectRef]:
    """The Kubernetes objects in the state, by kind, namespace and name (a Helm release by its name)."""
    found = []
    for resource in resources.values():
        type_, outputs = resource.get("type", ""), resource.get("outputs") or {}
        if type_ == RELEASE_TYPE and outputs.get("name"):
            found.append(ObjectRef(HELM_RELEASE, outputs.get("namespace"), outputs["name"]))
        elif type_.startswith("kubernetes:") and not type_.endswith("Patch") and _metadata(resource).get("name"):
            metadata = _metadata(resource)
            found.append(ObjectRef(type_.rsplit(":", 1)[-1], metadata.get("namespace"), metadata["name"]))
    return found


CHECKPOINT_BUSY = "failed to load checkpoint"
"""What the engine answers while its file backend rewrites the stack's checkpoint: the attributes file beside it is
truncated, then written (not replaced), and the update's first save races the program's first read."""
READ_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0)
"""Seconds between reads of the stack's state while the backend is busy (3.55 s in all): the save that races the
first read takes milliseconds."""


def read_own_objects() -> frozenset[ObjectRef]:
    """The Kubernetes objects (and Helm releases) the stack's state holds, even without a finished update (a release
    brought in with `pulumi import` alone): the stack's own, which it may create over."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    resources = _read_stack("pulumi:pulumi:readStackResourceOutputs", {"stackName": stack})
    return frozenset(_objects(resources.get("outputs") or {}))


def read_deployed() -> Deployed | None:
    """This stack's last deployment, through the engine's built-in provider (what a stack reference reads)."""
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    outputs = _read_stack("pulumi:pulumi:readStackOutputs", {"name": stack})
    if not (outputs.get("outputs") or {}).get("mode"):
        return None  # never deployed (or by something else): nothing to collide with
    resources = _read_stack("pulumi:pulumi:readStackResourceOutputs", {"stackName": stack})
    return deployed_from(outputs["outputs"], resources.get("outputs") or {})


def _read_stack(token: str, args: dict[str, str]) -> dict[str, Any]:
    """One of the engine's reads of the stack's state, read again while the backend is busy saving it."""
    for pause in (*READ_PAUSES, None):
        try:
            return pulumi.runtime.invoke(token, args).value or {}
        except Exception as error:  # the SDK raises a bare Exception carrying the engine's message
            if CHECKPOINT_BUSY not in str(error):
                raise
            if pause is None:
                raise RuntimeError(
                    f"could not read this stack's last deployment: the backend was still saving its checkpoint "
                    f"after {len(READ_PAUSES) + 1} reads ({error}); run the command again"
                ) from error
            time.sleep(pause)
    return {}  # not reached: the last read returns or raises
