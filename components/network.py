"""StackNetworkPolicies: who may talk to whom inside the stack's namespace.

Ingress traffic is denied by default; then NATS takes clients only from this stack's Rocket.Chat pods and routes
only from its peers, MongoDB takes only Rocket.Chat pods, the monolith and ddp-streamer take HTTP only from the
ingress controller's namespace, and metrics ports (Rocket.Chat's, and the NATS exporter's where it runs) open to the
monitoring namespace. Egress stays open: Rocket.Chat
reaches external MongoDB, push gateways and the marketplace.

Rocket.Chat pods are selected by the stack's instance label (`rocketchat.chat/instance`), which raw and chart-made
pods both carry: the policies do not change when a stack moves between modes, so the pods of both run side by side
while the stack switches.
"""

from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.networking import v1 as networking

from components import k8s
from components.catalog import (
    APP_PORT,
    DEFAULT_INSTANCE,
    MOLECULER_METRICS_PORT,
    MONOLITH_PROMETHEUS_PORT,
    WORKLOADS,
)
from components.mongodb import MONGODB_PORT
from components.nats import CLIENT_PORT, CLUSTER_PORT, METRICS_PORT


class StackNetworkPoliciesArgs(TypedDict):
    namespace: pulumi.Input[str]
    instance: NotRequired[str]
    """The stack's instance: the label every Rocket.Chat pod of it carries, and the policies' name prefix."""
    ingress_namespace: NotRequired[str]
    """Where the ingress controller runs (default `ingress-nginx`): a source of web traffic."""
    gateway_namespace: NotRequired[str]
    """Where the Gateway's proxies run, when the stack is published on a Gateway: the other source of web traffic."""
    monitoring_namespace: NotRequired[str]
    """Where Prometheus runs (default `monitoring`): the only source of scrapes."""
    nats_pods: NotRequired[pulumi.Input[dict[str, str]]]
    """The labels of the NATS pods, when the stack runs its own NatsCluster."""
    nats_metrics: NotRequired[bool]
    """The NATS pods run the metrics exporter: the monitoring namespace may scrape it (and nothing else of them)."""
    mongo_pods: NotRequired[pulumi.Input[dict[str, str]]]
    """The labels of the in-cluster MongoDB's pods, when the stack runs one."""
    default_deny: NotRequired[bool]
    """False when the chart brings pods of its own (bundled NATS or MongoDB) that these rules do not describe."""


DEFAULT_INGRESS_NAMESPACE = "ingress-nginx"
DEFAULT_MONITORING_NAMESPACE = "monitoring"


def rocketchat_pods(instance: str) -> meta.LabelSelectorArgs:
    """Every Rocket.Chat pod of the stack, raw or made by the chart."""
    return meta.LabelSelectorArgs(match_labels=k8s.rocketchat_pod_labels(instance))


def entry_pods(instance: str) -> meta.LabelSelectorArgs:
    """The pods the Ingress sends traffic to: the monolith and ddp-streamer. Raw pods name their workload in
    `app.kubernetes.io/component`, and the services without a Service are left out; the chart's pods carry no component
    label, and of them only the monolith and ddp-streamer listen on the web port."""
    internal = sorted(w.name for w in WORKLOADS if w.service is None)
    return meta.LabelSelectorArgs(
        match_labels=k8s.rocketchat_pod_labels(instance),
        match_expressions=[
            meta.LabelSelectorRequirementArgs(key="app.kubernetes.io/component", operator="NotIn", values=internal)
        ],
    )


def web_sources(args: StackNetworkPoliciesArgs) -> list[str]:
    """The namespaces whose pods may open the web port: the ingress controller's, and the Gateway's proxies'."""
    sources = [args.get("ingress_namespace", DEFAULT_INGRESS_NAMESPACE)]
    gateway = args.get("gateway_namespace")
    return [*sources, gateway] if gateway and gateway not in sources else sources


def _from_namespace(name: str) -> networking.NetworkPolicyPeerArgs:
    return networking.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": name})
    )


def _ports(*numbers: int) -> list[networking.NetworkPolicyPortArgs]:
    return [networking.NetworkPolicyPortArgs(protocol="TCP", port=n) for n in numbers]


class StackNetworkPolicies(pulumi.ComponentResource):
    """Default-deny ingress for the namespace, and the paths the stack needs (bus, database, web, metrics)."""

    def __init__(self, name: str, args: StackNetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:StackNetworkPolicies", name, None, opts)
        instance = args.get("instance", DEFAULT_INSTANCE)
        namespace = args["namespace"]
        nats_pods, mongo_pods = args.get("nats_pods"), args.get("mongo_pods")
        obj_labels = k8s.object_labels(k8s.labels("rocketchat", "network-policy", instance))
        rocketchat_peer = networking.NetworkPolicyPeerArgs(pod_selector=rocketchat_pods(instance))
        monitoring_peer = _from_namespace(args.get("monitoring_namespace", DEFAULT_MONITORING_NAMESPACE))

        def policy(
            suffix: str, pods: meta.LabelSelectorArgs, rules: list[networking.NetworkPolicyIngressRuleArgs]
        ) -> networking.NetworkPolicy:
            policy_name = f"{instance}-{suffix}"
            return networking.NetworkPolicy(
                policy_name,
                metadata=k8s.metadata(policy_name, namespace, obj_labels),
                spec=networking.NetworkPolicySpecArgs(pod_selector=pods, policy_types=["Ingress"], ingress=rules),
                opts=pulumi.ResourceOptions(parent=self),
            )

        if args.get("default_deny", True):
            policy("default-deny-ingress", meta.LabelSelectorArgs(), [])

        policy(
            "web",
            entry_pods(instance),
            [
                networking.NetworkPolicyIngressRuleArgs(
                    from_=[_from_namespace(ns) for ns in web_sources(args)],
                    ports=_ports(APP_PORT),
                )
            ],
        )
        policy(
            "metrics",
            rocketchat_pods(instance),
            [
                networking.NetworkPolicyIngressRuleArgs(
                    from_=[monitoring_peer], ports=_ports(MONOLITH_PROMETHEUS_PORT, MOLECULER_METRICS_PORT)
                )
            ],
        )
        if nats_pods is not None:
            nats_peer = networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=nats_pods))
            nats_rules = [
                networking.NetworkPolicyIngressRuleArgs(from_=[rocketchat_peer], ports=_ports(CLIENT_PORT)),
                networking.NetworkPolicyIngressRuleArgs(from_=[nats_peer], ports=_ports(CLUSTER_PORT)),
            ]
            # The monitoring port itself (client names and addresses in /connz) stays closed: only the exporter
            # beside each server reads it, over localhost.
            if args.get("nats_metrics"):
                nats_rules.append(
                    networking.NetworkPolicyIngressRuleArgs(from_=[monitoring_peer], ports=_ports(METRICS_PORT))
                )
            policy("nats", meta.LabelSelectorArgs(match_labels=nats_pods), nats_rules)
        if mongo_pods is not None:
            mongo_peer = networking.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=mongo_pods))
            policy(
                "mongodb",
                meta.LabelSelectorArgs(match_labels=mongo_pods),
                [
                    networking.NetworkPolicyIngressRuleArgs(
                        from_=[rocketchat_peer, mongo_peer], ports=_ports(MONGODB_PORT)
                    )
                ],
            )
        self.register_outputs({})
