"""Which Rocket.Chat workloads a stack runs, and how many pods of each: the sizing and version rules as pure functions.

RocketChatStack plans its workloads with them; the stack-config adapter runs the same plan to warn about what it
finds (a ddp-streamer count below the sizing, replicated services without a licence).
"""

import math
import re
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from components.args import ResourcesArgs, requests_and_limits, whole
from components.catalog import MICROSERVICES, MONOLITH, STREAM_HUB, Workload
from components.versions import StreamHubRule, Version, stream_hub_rule

USERS_PER_DDP_STREAMER = 500


class ServiceArgs(TypedDict, total=False):
    replicas: int
    resources: ResourcesArgs


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


class SizingArgs(TypedDict):
    """What decides the workloads: the version, the role of the monolith, the load, and per-workload overrides."""

    version: str
    microservices: NotRequired[bool]
    concurrent_users: NotRequired[int]
    monolith: NotRequired[MonolithArgs]
    services: NotRequired[ServicesArgs]
    licensed: NotRequired[bool]


@dataclass(frozen=True)
class WorkloadPlan:
    """One workload as the stack runs it."""

    workload: Workload
    replicas: int
    requests: dict[str, str]
    limits: dict[str, str]


@dataclass(frozen=True)
class BelowSizing:
    """ddp-streamer's replicas were set below one pod per 500 concurrent users."""

    replicas: int
    needed: int
    concurrent_users: int


@dataclass(frozen=True)
class Unlicensed:
    """More than one pod of a service that needs an Enterprise licence to run more than one."""

    workload: Workload
    replicas: int


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


def plan_workloads(sizing: SizingArgs) -> tuple[tuple[WorkloadPlan, ...], tuple[Note, ...]]:
    """The monolith first, then every microservice the version and settings call for; and what is worth a warning."""
    version = Version.parse(sizing["version"])
    monolith = sizing.get("monolith") or {}
    requests, limits = requests_and_limits(MONOLITH.resources, monolith.get("resources"))
    plans = [WorkloadPlan(MONOLITH, whole(monolith.get("replicas", 1)), requests, limits)]
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
            if workload.key == "ddpStreamer":
                if replicas is None:
                    replicas = needed_streamers
                elif replicas < needed_streamers:
                    notes.append(BelowSizing(replicas, needed_streamers, users))
            replicas = replicas or 1
        if replicas > 1 and workload.scaling == "licensed" and not sizing.get("licensed", False):
            notes.append(Unlicensed(workload, replicas))
        requests, limits = requests_and_limits(workload.resources, given.get("resources"))
        plans.append(WorkloadPlan(workload, replicas, requests, limits))
    return tuple(plans), tuple(notes)
