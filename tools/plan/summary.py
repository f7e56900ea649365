"""What a set of Kubernetes objects adds up to: objects by kind, pods, the requests and limits of every workload
(replicas x per-pod amounts, counted the way the scheduler counts them) and the storage their volume claims ask for,
with the amounts printed the way people read them (`250m`, `1.35`, `512Mi`, `3.25Gi`).

Quantities are read with components.quantity, the grammar the stack settings validate with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from components.quantity import BINARY_SUFFIXES, parse_quantity

WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def _trim(number: Decimal, places: int) -> str:
    text = f"{number.quantize(Decimal(1).scaleb(-places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_cpu(cores: Decimal) -> str:
    """Cores as a person reads them: `250m` below one core, `1.85` above."""
    if cores == 0:
        return "0"
    if cores < 1:
        return f"{_trim(cores * 1000, 1)}m"
    return _trim(cores, 3)


def format_bytes(amount: Decimal) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1: `512Mi`, `3.25Gi`."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = BINARY_SUFFIXES[suffix]
        if amount >= unit:
            return f"{_trim(amount / unit, 2)}{suffix}"
    return _trim(amount, 0)


@dataclass
class Summary:
    """What a set of objects adds up to. CPU in cores, memory and storage in bytes."""

    kinds: Counter[str] = field(default_factory=Counter)
    pods: int = 0
    requests_cpu: Decimal = Decimal(0)
    requests_memory: Decimal = Decimal(0)
    limits_cpu: Decimal = Decimal(0)
    limits_memory: Decimal = Decimal(0)
    containers: int = 0
    """Containers (per pod template, not times replicas) that run for the life of the pod."""
    without_cpu_limit: int = 0
    without_memory_limit: int = 0
    storage: Decimal = Decimal(0)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": dict(sorted(self.kinds.items())),
            "pods": self.pods,
            "requests": {"cpu": format_cpu(self.requests_cpu), "memory": format_bytes(self.requests_memory)},
            "limits": {"cpu": format_cpu(self.limits_cpu), "memory": format_bytes(self.limits_memory)},
            "containers": self.containers,
            "withoutCpuLimit": self.without_cpu_limit,
            "withoutMemoryLimit": self.without_memory_limit,
            "storage": format_bytes(self.storage),
            "notes": list(self.notes),
        }


def _amount(resources: Mapping[str, Any] | None, section: str, resource: str) -> Decimal | None:
    value = ((resources or {}).get(section) or {}).get(resource)
    return None if value is None else parse_quantity(value)


def running_containers(pod_spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The containers that run for the pod's life: the app containers and the sidecars (init containers with
    restartPolicy Always)."""
    inits = pod_spec.get("initContainers") or []
    return [*(pod_spec.get("containers") or []), *(c for c in inits if c.get("restartPolicy") == "Always")]


def pod_amounts(pod_spec: Mapping[str, Any]) -> dict[tuple[str, str], Decimal]:
    """The effective requests and limits of one pod, as the scheduler counts them.

    Sum over the running containers, or the largest plain init container if that is larger, resource by resource.
    """
    running_now = running_containers(pod_spec)
    plain_inits = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") != "Always"]
    amounts: dict[tuple[str, str], Decimal] = {}
    for section in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            running = sum(
                (_amount(c.get("resources"), section, resource) or Decimal(0) for c in running_now), Decimal(0)
            )
            init_peak = max(
                (_amount(c.get("resources"), section, resource) or Decimal(0) for c in plain_inits),
                default=Decimal(0),
            )
            amounts[(section, resource)] = max(running, init_peak)
    return amounts


def summarize(documents: Iterable[Mapping[str, Any]]) -> Summary:
    """Objects by kind; for Deployments and StatefulSets, replicas x each pod's requests, limits and volume claims."""
    summary = Summary()
    for document in documents:
        kind = document.get("kind", "?")
        summary.kinds[kind] += 1
        if kind not in WORKLOAD_KINDS:
            continue
        spec = document.get("spec") or {}
        replicas = spec.get("replicas")
        replicas = 1 if replicas is None else int(replicas)
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        summary.pods += replicas
        amounts = pod_amounts(pod_spec)
        summary.requests_cpu += replicas * amounts[("requests", "cpu")]
        summary.requests_memory += replicas * amounts[("requests", "memory")]
        summary.limits_cpu += replicas * amounts[("limits", "cpu")]
        summary.limits_memory += replicas * amounts[("limits", "memory")]
        running = running_containers(pod_spec)
        summary.containers += len(running)
        summary.without_cpu_limit += sum(1 for c in running if _amount(c.get("resources"), "limits", "cpu") is None)
        summary.without_memory_limit += sum(
            1 for c in running if _amount(c.get("resources"), "limits", "memory") is None
        )
        for claim in spec.get("volumeClaimTemplates") or []:
            storage = (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
            if storage is not None:
                summary.storage += replicas * parse_quantity(storage)
    return summary


def summary_line(stack: str, summary: Summary) -> str:
    """One line a reviewer can compare between two renders."""
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(summary.kinds.items()))
    total = sum(summary.kinds.values())

    def limit(total: str, unset: int) -> str:
        if unset and unset == summary.containers:
            return "none"
        return f"{total} (unset on {unset} of {summary.containers} containers)" if unset else total

    cpu_limit = limit(format_cpu(summary.limits_cpu), summary.without_cpu_limit)
    memory_limit = limit(format_bytes(summary.limits_memory), summary.without_memory_limit)
    parts = [
        f"{stack}: {total} objects ({kinds})",
        f"{summary.pods} pods",
        f"requests cpu {format_cpu(summary.requests_cpu)} memory {format_bytes(summary.requests_memory)}",
        f"limits cpu {cpu_limit} memory {memory_limit}",
        f"storage {format_bytes(summary.storage)}",
    ]
    return " | ".join(parts + summary.notes)
