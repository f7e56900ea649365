"""Every image a stack pulls, for mirroring into an air-gapped registry: read from the stack's rendered objects (the
program's and, in helm mode, the chart's rendered by real Helm), so the list is what the pods will ask for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tools.plan.render import PlanObject

POD_TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"})


def pod_spec(document: dict[str, Any]) -> dict[str, Any] | None:
    kind = document.get("kind")
    if kind not in POD_TEMPLATE_KINDS:
        return None
    if kind == "Pod":
        return document.get("spec") or {}
    if kind == "CronJob":
        return (
            (((document.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
        )
    return ((document.get("spec") or {}).get("template") or {}).get("spec")


def stack_images(objects: Iterable[PlanObject]) -> dict[str, list[str]]:
    """Image reference -> the workloads (`Kind/namespace/name`) whose containers pull it, sorted; Helm test hooks
    (`helm test` only) left out."""
    found: dict[str, set[str]] = {}
    for obj in objects:
        annotations = (obj.document.get("metadata") or {}).get("annotations") or {}
        if "test" in str(annotations.get("helm.sh/hook", "")):
            continue
        spec = pod_spec(obj.document)
        if spec is None:
            continue
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            found.setdefault(container["image"], set()).add(obj.key)
    return {image: sorted(users) for image, users in sorted(found.items())}


def format_images(images: dict[str, list[str]]) -> str:
    """One image a line (what `crane copy` or `skopeo copy` takes), each followed by who pulls it as a comment."""
    return "".join(f"{image}  # {', '.join(users)}\n" for image, users in images.items())
