"""Input types the components share: plain values and `pulumi.Input`s, as TypedDicts.

TypedDicts because that is what Pulumi's component provider hands a component (a dict, keys in snake_case) and what it
derives the package schema from, so a Python program and a YAML or TypeScript one fill the same args.
"""

from typing import NotRequired, TypedDict

import pulumi

from components.catalog import ResourceDefaults


class ResourcesArgs(TypedDict, total=False):
    """Requests and limits (`cpu`, `memory`) laid over a workload's defaults."""

    requests: dict[str, str]
    limits: dict[str, str]


class TolerationArgs(TypedDict, total=False):
    key: str
    operator: str
    value: str
    effect: str
    toleration_seconds: int


class PlacementArgs(TypedDict, total=False):
    """Where pods may run: applied to every pod (e.g. tolerations for dedicated or fake nodes)."""

    tolerations: list[TolerationArgs]
    node_selector: dict[str, str]


class SecretKeyArgs(TypedDict):
    """A key of a Kubernetes Secret that a container reads, and a keyed digest of its value that rolls the pods
    reading it when the value changes (components/credentials.py; without one the pods never roll for it)."""

    name: pulumi.Input[str]
    key: str
    digest: NotRequired[pulumi.Input[str]]


class AutoscalingArgs(TypedDict):
    """A HorizontalPodAutoscaler for a workload: pods between `min_replicas` and `max_replicas`, scaled on CPU."""

    max_replicas: int
    min_replicas: NotRequired[int]
    """Default: the pods the workload would run without autoscaling (ddp-streamer: one per 500 users)."""
    target_cpu_utilization_percentage: NotRequired[int]
    """Average CPU use, in percent of the pods' CPU request, the autoscaler keeps the pods at (default 70)."""


class WorkloadArgs(TypedDict):
    """One Rocket.Chat workload to run: its catalog key (`monolith`, `account`, `ddpStreamer`...), its pod count
    (with `autoscaling`, the count it starts at; the autoscaler owns it from then on)."""

    key: str
    replicas: int
    resources: NotRequired[ResourcesArgs]
    autoscaling: NotRequired[AutoscalingArgs]


def whole(value: float | int) -> int:
    """A count as an int: numbers reach a component from another language as floats (Pulumi's wire format)."""
    if value != int(value):
        raise ValueError(f"{value} is not a whole number")
    return int(value)


def requests_and_limits(
    defaults: ResourceDefaults, given: ResourcesArgs | None
) -> tuple[dict[str, str], dict[str, str]]:
    """A workload's requests and limits: its catalog defaults with the given ones laid over them."""
    given = given or {}
    return defaults.requests | dict(given.get("requests") or {}), defaults.limits | dict(given.get("limits") or {})
