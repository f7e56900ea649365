"""What the stack's alerts and dashboards watch, and the PromQL selectors both build their queries from.

Pure data: a component describes its stack with a `MonitoredStack` (namespace, instance, the workloads it runs, the
version rule for stream-hub, the ddp-streamer budget, how its NATS metrics are named) and hands it to
`components.alerts.prometheus_rule_spec` and `components.dashboards.dashboard_configmap_data`.

Where the series come from, and the labels the queries rely on:

- Rocket.Chat's own Prometheus endpoint (monolith, port 9100): prom-client metrics such as `rocketchat_users_online`
  (a gauge refreshed from the workspace statistics, the same value on every monolith pod) and
  `rocketchat_message_sent` (a counter; prom-client adds no `_total`).
- Moleculer's Prometheus reporter (every process, port 9458): `moleculer_request_total` and
  `moleculer_request_error_total` (labels `service`, `action`, `type`, `caller`; errors also `errorName`,
  `errorCode`, `errorType`), the histogram `moleculer_request_time` (ms), `moleculer_transporter_packets_*`; and the
  two gauges ddp-streamer registers on the same broker, `users_connected` (open DDP connections of that pod) and
  `users_logged` (those logged in), both labelled `nodeID`.
- kube-state-metrics: `kube_deployment_status_replicas_available`, `kube_deployment_spec_replicas`,
  `kube_statefulset_status_replicas_ready`, `kube_statefulset_replicas`, labelled `namespace` and `deployment` /
  `statefulset`.
- prometheus-nats-exporter, as a sidecar of each NATS server reading its monitoring port 8222: gauges named
  `<prefix>_<endpoint>_<field>` (`gnatsd_varz_connections`, `gnatsd_routez_num_routes`, ...) labelled `server_id`.
  The prefix is `gnatsd` unless the exporter runs with `-prefix` (the NATS Helm chart the official Rocket.Chat chart
  bundles passes `-prefix=nats`); see `NatsMetrics`.

Application metrics are assumed scraped per pod (a PodMonitor, or the usual `kubernetes-pods` job), which gives every
series the target labels `namespace` and `pod`. The queries select the stack's pods by name: a Deployment's pods are
`<deployment>-<replicaset hash>-<suffix>` and a StatefulSet's `<statefulset>-<ordinal>`, and the Deployments are
`<prefix>-<workload>` in both modes (the prefix is the instance in raw mode, the release name in helm mode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.catalog import DDP_STREAMER, MONOLITH, STREAM_HUB, WORKLOADS
from components.planning import USERS_PER_DDP_STREAMER

DDP_STREAMER_BUDGET = USERS_PER_DDP_STREAMER
"""Connections one ddp-streamer pod is sized for: the sizing's own number."""

WORKLOAD_NAMES: tuple[str, ...] = tuple(w.name for w in WORKLOADS)
"""The catalog's workload names: rocketchat, account, authorization, presence, ddp-streamer, stream-hub."""

DEFAULT_ROUTES_PER_PEER = 4
"""Route connections a NATS server (2.10 and later) holds to each peer with the config NatsCluster renders: a pool of
3 (the default `cluster.pool_size`) plus one dedicated to the system account."""

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PREFIX = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
POD_SUFFIX = "[a-z0-9]+-[a-z0-9]+"
"""What follows `<deployment>-` in the name of a Deployment's pod: the ReplicaSet's hash and the pod's own suffix."""


@dataclass(frozen=True)
class NatsMetrics:
    """How prometheus-nats-exporter names the NATS metrics: `<prefix>_<endpoint>_<field>`."""

    prefix: str = "gnatsd"
    """`gnatsd` (the exporter's default) or what its `-prefix` flag says (`nats` in the NATS Helm chart)."""

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"NATS metric prefix {self.prefix!r} is not a metric name prefix")

    def varz(self, field: str) -> str:
        """A field of the server's /varz (the exporter's `-varz`): connections, in_msgs, slow_consumers, ..."""
        return f"{self.prefix}_varz_{field}"

    def routez(self, field: str) -> str:
        """A field of the server's /routez (the exporter's `-routez`): num_routes."""
        return f"{self.prefix}_routez_{field}"


EXPORTER_DEFAULT = NatsMetrics("gnatsd")
NATS_CHART = NatsMetrics("nats")


@dataclass(frozen=True)
class Scope:
    """Label matchers for one stack's series. The values are pasted into PromQL as they are: literal names for the
    alerts, Grafana variables (`$namespace`, `$instance`) for the dashboards."""

    namespace: str
    prefix: str
    nats_statefulset: str

    def ns(self) -> str:
        return f'namespace="{self.namespace}"'

    def deployments(self, workloads: tuple[str, ...]) -> str:
        """The Deployments of these workloads (kube-state-metrics' `deployment` label)."""
        return f'{self.ns()}, deployment=~"{self.prefix}-({"|".join(workloads)})"'

    def deployment(self, workload: str) -> str:
        return f'{self.ns()}, deployment="{self.prefix}-{workload}"'

    def pods(self, workloads: tuple[str, ...]) -> str:
        """The pods of these workloads' Deployments (the `pod` target label of scraped metrics)."""
        return f'{self.ns()}, pod=~"{self.prefix}-({"|".join(workloads)})-{POD_SUFFIX}"'

    def statefulset(self) -> str:
        return f'{self.ns()}, statefulset="{self.nats_statefulset}"'

    def nats_pods(self) -> str:
        return f'{self.ns()}, pod=~"{self.nats_statefulset}-[0-9]+"'


@dataclass(frozen=True)
class MonitoredStack:
    """One stack as its monitoring sees it."""

    namespace: str
    instance: str
    """The stack's instance (`rocketchat:instance`): labels the alerts, names the rule groups and the dashboards."""
    workloads: tuple[str, ...] = WORKLOAD_NAMES
    """Catalog names (`Workload.name`) of the workloads the stack runs."""
    workload_prefix: str | None = None
    """Name prefix of the Deployments: the instance in raw mode (default), the release name in helm mode."""
    stream_hub_required: bool = False
    """True when the stack runs microservices on a version before 7.7 (`stream_hub_rule` says REQUIRED)."""
    ddp_streamer_budget: int = DDP_STREAMER_BUDGET
    """Connections one ddp-streamer pod is sized for."""
    nats_statefulset: str = "nats"
    """The NATS StatefulSet: NatsCluster's (`nats`), or the chart's bundled one (`<release>-nats`)."""
    nats_metrics: NatsMetrics = EXPORTER_DEFAULT
    nats_routes_per_peer: int = DEFAULT_ROUTES_PER_PEER
    runbook_url: str | None = None
    """Base URL of the runbook (docs/monitoring.md as published); each alert links to `<url>#<alert name, lower>`."""

    def __post_init__(self) -> None:
        for what, value in (
            ("namespace", self.namespace),
            ("instance", self.instance),
            ("workload prefix", self.prefix),
            ("NATS StatefulSet", self.nats_statefulset),
        ):
            if not _NAME.match(value):
                raise ValueError(f"{what} {value!r} is not a Kubernetes name (lower-case letters, digits, '-')")
        unknown = sorted(set(self.workloads) - set(WORKLOAD_NAMES))
        if unknown or not self.workloads:
            raise ValueError(f"workloads {list(self.workloads)}: each must be one of {list(WORKLOAD_NAMES)}")
        if MONOLITH.name not in self.workloads:
            raise ValueError(f"every stack runs the monolith ({MONOLITH.name})")
        if self.ddp_streamer_budget < 1 or self.nats_routes_per_peer < 1:
            raise ValueError("the ddp-streamer budget and the NATS routes per peer are positive numbers")

    @property
    def prefix(self) -> str:
        return self.workload_prefix or self.instance

    @property
    def scope(self) -> Scope:
        return Scope(self.namespace, self.prefix, self.nats_statefulset)

    @property
    def runs_ddp_streamer(self) -> bool:
        return DDP_STREAMER.name in self.workloads

    @property
    def runs_stream_hub(self) -> bool:
        return STREAM_HUB.name in self.workloads
