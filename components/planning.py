"""Which Rocket.Chat workloads a stack runs, and how many pods of each: the sizing and version rules as pure functions.

RocketChatStack plans its workloads with them; the stack-config adapter runs the same plan to warn about what it
finds (a ddp-streamer count below the sizing, replicated services without a licence).
"""

import math
import re
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from components.args import AutoscalingArgs, ResourcesArgs, requests_and_limits, whole
from components.catalog import MICROSERVICES, MONOLITH, STREAM_HUB, Workload
from components.versions import StreamHubRule, Version, stream_hub_rule

USERS_PER_DDP_STREAMER = 500
DEFAULT_TARGET_CPU_PERCENT = 70
"""Average CPU, in percent of the request, an autoscaled workload is kept at: headroom for the minute a new pod
takes to start (ddp-streamer reaches the monolith first) while a Monday-morning login wave keeps coming."""


class ServiceArgs(TypedDict, total=False):
    replicas: int
    resources: ResourcesArgs
    autoscaling: AutoscalingArgs


class StreamHubArgs(TypedDict, total=False):
    enabled: bool
    """Only 7.7.x lets it be chosen: earlier versions need it, 8.0 and later have none."""
    resources: ResourcesArgs


class ServicesArgs(TypedDict, total=False):
    account: ServiceArgs
    authorization: ServiceArgs
    presence: ServiceArgs
    ddp_streamer: ServiceArgs
    stream_hub: StreamHubArgs


class MonolithArgs(TypedDict, total=False):
    replicas: int
    resources: ResourcesArgs
    autoscaling: AutoscalingArgs


class SizingArgs(TypedDict):
    """What decides the workloads: the version, the role of the monolith, the load, and per-workload overrides."""

    version: str
    microservices: NotRequired[bool]
    concurrent_users: NotRequired[int]
    monolith: NotRequired[MonolithArgs]
    services: NotRequired[ServicesArgs]
    licensed: NotRequired[bool]


@dataclass(frozen=True)
class Autoscaling:
    """A workload's HorizontalPodAutoscaler: its pod count stays between the two bounds, set by CPU use."""

    min_replicas: int
    max_replicas: int
    target_cpu_percent: int = DEFAULT_TARGET_CPU_PERCENT

    def __str__(self) -> str:
        return f"{self.min_replicas}..{self.max_replicas}"


@dataclass(frozen=True)
class WorkloadPlan:
    """One workload as the stack runs it."""

    workload: Workload
    replicas: int
    """The pods it runs; when autoscaled, the pods it starts with (the minimum), the autoscaler's from then on."""
    requests: dict[str, str]
    limits: dict[str, str]
    autoscaling: Autoscaling | None = None

    @property
    def max_replicas(self) -> int:
        """The most pods it can run: what spreading and disruption budgets are sized for."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas

    @property
    def count(self) -> int | str:
        """The pods it runs as the `replicas` output says it: a number, or `min..max` where it autoscales."""
        return str(self.autoscaling) if self.autoscaling else self.replicas


@dataclass(frozen=True)
class BelowSizing:
    """ddp-streamer's replicas (or its autoscaler's minimum) were set below one pod per 500 concurrent users."""

    replicas: int
    needed: int
    concurrent_users: int
    autoscaled: bool = False


@dataclass(frozen=True)
class Unlicensed:
    """More than one pod (or an autoscaler allowed more than one) of a service that needs an Enterprise licence to
    run more than one."""

    workload: Workload
    replicas: int
    autoscaled: bool = False


Note = BelowSizing | Unlicensed


def ddp_streamer_replicas_for(concurrent_users: int) -> int:
    """One ddp-streamer pod per 500 concurrent users, at least one."""
    return max(1, math.ceil(concurrent_users / USERS_PER_DDP_STREAMER))


def stream_hub_runs(version: Version, enabled: bool | None) -> bool:
    """Required before 7.7, a choice in 7.7.x (off unless enabled), gone from 8.0."""
    rule = stream_hub_rule(version)
    return rule is StreamHubRule.REQUIRED or (rule is StreamHubRule.OPTIONAL and bool(enabled))


def args_key(workload: Workload) -> str:
    """The workload's key in ServicesArgs: the catalog's key in snake_case (`ddpStreamer` -> `ddp_streamer`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", workload.key).lower()


def autoscaling_for(workload: Workload, given: AutoscalingArgs | None, replicas: int) -> Autoscaling | None:
    """The autoscaler a workload asks for, its minimum defaulting to the pods it would run without one."""
    if not given:
        return None
    if workload.scaling == "singleton":
        raise ValueError(f"{workload.name} runs exactly one pod, never two: it cannot autoscale")
    scaling = Autoscaling(
        min_replicas=whole(given.get("min_replicas", replicas)),
        max_replicas=whole(given["max_replicas"]),
        target_cpu_percent=whole(given.get("target_cpu_utilization_percentage", DEFAULT_TARGET_CPU_PERCENT)),
    )
    if scaling.min_replicas < 1 or scaling.max_replicas < scaling.min_replicas:
        raise ValueError(
            f"{workload.name}: autoscaling needs 1 <= min_replicas <= max_replicas "
            f"(got {scaling.min_replicas}..{scaling.max_replicas})"
        )
    return scaling


def plan_workloads(sizing: SizingArgs) -> tuple[tuple[WorkloadPlan, ...], tuple[Note, ...]]:
    """The monolith first, then every microservice the version and settings call for; and what is worth a warning."""
    version = Version.parse(sizing["version"])
    monolith = sizing.get("monolith") or {}
    requests, limits = requests_and_limits(MONOLITH.resources, monolith.get("resources"))
    monolith_replicas = whole(monolith.get("replicas", 1))
    scaling = autoscaling_for(MONOLITH, monolith.get("autoscaling"), monolith_replicas)
    plans = [workload_plan(MONOLITH, monolith_replicas, requests, limits, scaling)]
    notes: list[Note] = []
    if not sizing.get("microservices", True):
        return tuple(plans), ()

    services = sizing.get("services") or {}
    users = whole(sizing.get("concurrent_users", 0))
    needed_streamers = ddp_streamer_replicas_for(users)
    for workload in MICROSERVICES:
        given: ServiceArgs | StreamHubArgs = services.get(args_key(workload)) or {}  # type: ignore[assignment]
        if workload is STREAM_HUB:
            if not stream_hub_runs(version, given.get("enabled")):  # type: ignore[union-attr]
                continue
            replicas = 1  # a singleton: never two, not even during a rollout
        else:
            given_replicas = given.get("replicas")
            replicas = whole(given_replicas) if given_replicas is not None else None  # type: ignore[assignment]
            if workload.key == "ddpStreamer" and replicas is None:
                replicas = needed_streamers
            replicas = replicas or 1
        scaling = autoscaling_for(workload, given.get("autoscaling"), replicas)  # type: ignore[arg-type]
        floor = scaling.min_replicas if scaling else replicas
        if workload.key == "ddpStreamer" and floor < needed_streamers:
            notes.append(BelowSizing(floor, needed_streamers, users, autoscaled=scaling is not None))
        most = scaling.max_replicas if scaling else replicas
        if most > 1 and workload.scaling == "licensed" and not sizing.get("licensed", False):
            notes.append(Unlicensed(workload, most, autoscaled=scaling is not None))
        requests, limits = requests_and_limits(workload.resources, given.get("resources"))
        plans.append(workload_plan(workload, replicas, requests, limits, scaling))
    return tuple(plans), tuple(notes)


def workload_plan(
    workload: Workload, replicas: int, requests: dict[str, str], limits: dict[str, str], scaling: Autoscaling | None
) -> WorkloadPlan:
    """A workload's plan; an autoscaled one starts at its autoscaler's minimum."""
    return WorkloadPlan(workload, scaling.min_replicas if scaling else replicas, requests, limits, scaling)
