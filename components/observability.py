"""StackMonitoring: what a Prometheus and a Grafana run by the prometheus-operator need to watch one stack.

PodMonitors for the Rocket.Chat pods (raw or made by the chart: they are selected by the stack's instance label) and
for the stack's NATS servers (their metrics exporter), a PrometheusRule with the stack's alerts (components/alerts.py)
and a ConfigMap of Grafana dashboards (components/dashboards.py) that the Grafana sidecar loads. The cluster needs the
prometheus-operator's CRDs for the first two.
"""

from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core

from components import k8s
from components.alerts import prometheus_rule_spec
from components.catalog import DEFAULT_INSTANCE, WORKLOADS_BY_KEY
from components.dashboards import dashboard_configmap
from components.monitoring import EXPORTER_DEFAULT, MonitoredStack, NatsMetrics

MONITORING_API = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "30s"
RAW_METRICS_PORTS = ("metrics", "moleculer")
"""The metrics ports of MicroserviceSet's pods: the monolith's Prometheus endpoint (`metrics`, 9100) and every
process's Moleculer reporter (`moleculer`, 9458)."""
NATS_METRICS_PORT_NAME = "metrics"
"""NatsCluster's metrics exporter port."""


class StackMonitoringArgs(TypedDict):
    namespace: str
    """The stack's namespace (a name, not an output: the alerts' queries name it)."""
    instance: NotRequired[str]
    """The stack's instance: its Rocket.Chat pods carry it in `rocketchat.chat/instance`."""
    workloads: list[str]
    """Catalog keys of the workloads the stack runs (`monolith`, `ddpStreamer`, ...): what the alerts watch."""
    workload_prefix: NotRequired[str]
    """Name prefix of the Deployments: the instance (raw mode, the default) or the chart's release name."""
    metrics_ports: NotRequired[list[str]]
    """Names of the Rocket.Chat pods' metrics ports (default MicroserviceSet's: `metrics`, `moleculer`)."""
    pod_monitor: NotRequired[bool]
    """PodMonitors for the Rocket.Chat pods and, with `nats_pods`, the NATS servers' exporters."""
    nats_pods: NotRequired[pulumi.Input[dict[str, str]]]
    """The labels of the NATS pods when they run NatsCluster's metrics exporter (port `metrics`)."""
    nats_statefulset: NotRequired[str]
    """The NATS StatefulSet the alerts watch (default `nats`, NatsCluster's)."""
    nats_metrics_prefix: NotRequired[str]
    """How the NATS exporter prefixes its metrics (default `gnatsd`, the exporter's own)."""
    prometheus_rule: NotRequired[bool]
    """A PrometheusRule with the stack's alerts (components/alerts.py; runbooks in docs/monitoring.md)."""
    dashboards: NotRequired[bool]
    """A ConfigMap of the stack's Grafana dashboards (overview, bus), labelled for the Grafana sidecar."""
    stream_hub_required: NotRequired[bool]
    """The stack runs a version that needs stream-hub (before 7.7): an alert fires when it is missing."""
    labels: NotRequired[dict[str, str]]
    """Extra labels of the PodMonitors and the PrometheusRule: what the Prometheus's selectors look for."""
    runbook_url: NotRequired[str]
    """Where the alerts' runbook is published: each alert links to `<url>#<alert name, lower case>`."""


def monitored_stack(args: StackMonitoringArgs) -> MonitoredStack:
    """The stack as its alerts and dashboards see it."""
    instance = args.get("instance", DEFAULT_INSTANCE)
    return MonitoredStack(
        namespace=args["namespace"],
        instance=instance,
        workloads=tuple(WORKLOADS_BY_KEY[key].name for key in args["workloads"]),
        workload_prefix=args.get("workload_prefix"),
        stream_hub_required=args.get("stream_hub_required", False),
        nats_statefulset=args.get("nats_statefulset", "nats"),
        nats_metrics=NatsMetrics(args.get("nats_metrics_prefix", EXPORTER_DEFAULT.prefix)),
        runbook_url=args.get("runbook_url"),
    )


def pod_monitor_spec(pods: pulumi.Input[dict[str, str]], ports: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Scrape `/metrics` on these named ports of these pods (a pod without one of the ports has no target for it)."""
    return {
        "selector": {"matchLabels": pods},
        "podMetricsEndpoints": [{"port": port, "path": "/metrics", "interval": SCRAPE_INTERVAL} for port in ports],
    }


class StackMonitoring(pulumi.ComponentResource):
    """PodMonitors, a PrometheusRule and Grafana dashboards for one stack, each where asked."""

    pod_monitor_names: pulumi.Output[list[str]]
    rule_name: pulumi.Output[str] | None
    dashboards_config_map: pulumi.Output[str] | None

    def __init__(self, name: str, args: StackMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:StackMonitoring", name, None, opts)
        stack = monitored_stack(args)
        namespace, instance = args["namespace"], stack.instance
        obj_labels = k8s.object_labels(k8s.labels("rocketchat", "monitoring", instance))
        selected_by = obj_labels | dict(args.get("labels") or {})
        child = pulumi.ResourceOptions(parent=self)

        def custom(kind: str, object_name: str, spec: dict[str, Any]) -> pulumi.Output[str]:
            """A prometheus-operator object; its name, as the API server returns it."""
            made = CustomResource(
                object_name,
                api_version=MONITORING_API,
                kind=kind,
                metadata=k8s.metadata(object_name, namespace, selected_by),
                spec=spec,
                opts=child,
            )
            return made.metadata.apply(lambda metadata: metadata["name"])

        monitors: list[pulumi.Output[str]] = []
        if args.get("pod_monitor"):
            ports = list(args.get("metrics_ports") or RAW_METRICS_PORTS)
            monitors.append(
                custom("PodMonitor", instance, pod_monitor_spec(k8s.rocketchat_pod_labels(instance), ports))
            )
            if args.get("nats_pods") is not None:
                monitors.append(
                    custom(
                        "PodMonitor", f"{instance}-nats", pod_monitor_spec(args["nats_pods"], [NATS_METRICS_PORT_NAME])
                    )
                )

        self.rule_name = None
        if args.get("prometheus_rule"):
            self.rule_name = custom("PrometheusRule", f"{instance}-alerts", prometheus_rule_spec(stack))

        self.dashboards_config_map = None
        if args.get("dashboards"):
            dashboards = dashboard_configmap(stack)
            config_map_name = f"{instance}-dashboards"
            self.dashboards_config_map = core.ConfigMap(
                config_map_name,
                metadata=k8s.metadata(config_map_name, namespace, obj_labels | dashboards.labels),
                data=dashboards.data,
                opts=child,
            ).metadata.name

        self.pod_monitor_names = pulumi.Output.all(*monitors)  # type: ignore[assignment]
        self.register_outputs(
            {
                "pod_monitor_names": self.pod_monitor_names,
                "rule_name": self.rule_name,
                "dashboards_config_map": self.dashboards_config_map,
            }
        )
