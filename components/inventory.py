"""The Kubernetes objects a RocketChatStack makes, by kind, namespace and name, from its args alone.

A program reads these from the cluster before it registers anything, to see whether another stack (or nobody it
knows) already has one of them: once registered, a resource's creation cannot be held back (the SDK sends what it has
queued even when the program fails). The tests hold this list equal to what the stack registers, for every variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.microservices import workload_name
from components.nats import nats_object_names
from components.planning import plan_workloads
from components.release import DEFAULT_RELEASE_NAME
from components.stack import (
    DEFAULT_NAMESPACE,
    WORKSPACE_KEYS,
    RocketChatStackArgs,
    default_deny,
    gateway_parents,
    ingress_enabled,
    mongo_object_name,
    nats_object_name,
    runs_in_cluster_mongo,
    runs_own_nats,
    sizing,
    stack_instance,
)
from components.workspace import secret_values


@dataclass(frozen=True)
class ApiKind:
    """Where the API server serves a kind: `/api/v1` for the core group, `/apis/<group>/<version>` for the others."""

    group_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str) -> str:
        root = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        where = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{root}{where}/{self.plural}/{name}"


HELM_RELEASE = "HelmRelease"
"""Not an API kind: a Helm release, whose records are Secrets labelled `owner=helm,name=<release>` in its namespace."""

KINDS: dict[str, ApiKind] = {
    "Namespace": ApiKind("v1", "namespaces", namespaced=False),
    "Secret": ApiKind("v1", "secrets"),
    "Service": ApiKind("v1", "services"),
    "ConfigMap": ApiKind("v1", "configmaps"),
    "PersistentVolumeClaim": ApiKind("v1", "persistentvolumeclaims"),
    "Deployment": ApiKind("apps/v1", "deployments"),
    "StatefulSet": ApiKind("apps/v1", "statefulsets"),
    "PodDisruptionBudget": ApiKind("policy/v1", "poddisruptionbudgets"),
    "HorizontalPodAutoscaler": ApiKind("autoscaling/v2", "horizontalpodautoscalers"),
    "NetworkPolicy": ApiKind("networking.k8s.io/v1", "networkpolicies"),
    "Ingress": ApiKind("networking.k8s.io/v1", "ingresses"),
    "PodMonitor": ApiKind("monitoring.coreos.com/v1", "podmonitors"),
    "PrometheusRule": ApiKind("monitoring.coreos.com/v1", "prometheusrules"),
    "HTTPRoute": ApiKind("gateway.networking.k8s.io/v1", "httproutes"),
    HELM_RELEASE: ApiKind("v1", "secrets"),
}


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def stack_objects(args: RocketChatStackArgs) -> list[ObjectRef]:
    """Every object the stack registers (the chart's own objects excepted: Helm refuses to take over an object that
    is not its release's), in the order of the components that make them."""
    namespace = args.get("namespace", DEFAULT_NAMESPACE)
    instance = stack_instance(args)
    helm = args["mode"] == "helm"
    found: list[ObjectRef] = []

    def add(kind: str, name: str) -> None:
        found.append(ObjectRef(kind, None if kind == "Namespace" else namespace, name))

    if args.get("create_namespace", True):
        add("Namespace", namespace)
    nats_replicas = (args.get("nats") or {}).get("replicas", 1)
    if runs_own_nats(args):
        names = nats_object_names(nats_object_name(args))
        add("StatefulSet", names["statefulset"])
        add("Service", names["client_service"])
        add("Service", names["headless_service"])
        add("Secret", names["config_secret"])
        if nats_replicas >= 2:
            add("PodDisruptionBudget", names["disruption_budget"])
        add("Secret", f"{instance}-bus")
    in_cluster = (args.get("mongodb") or {}).get("in_cluster")
    if runs_in_cluster_mongo(args):
        mongo = mongo_object_name(args)
        add("StatefulSet", mongo)
        add("Service", f"{mongo}-headless")
        if (in_cluster or {}).get("replicas", 1) >= 2:
            add("PodDisruptionBudget", mongo)
    if args.get("mongo_url") is not None or runs_in_cluster_mongo(args):
        add("Secret", f"{instance}-mongodb")
    if args.get("license") is not None:
        add("Secret", f"{instance}-license")

    workspace: Any = {key: args[key] for key in WORKSPACE_KEYS if args.get(key) is not None}  # type: ignore[literal-required]
    if secret_values(workspace):
        add("Secret", f"{instance}-settings")
    if workspace.get("trusted_ca"):
        add("ConfigMap", f"{instance}-trusted-ca")
    if (workspace.get("uploads") or {}).get("storage") == "filesystem":
        add("PersistentVolumeClaim", f"{instance}-uploads")

    plans, _ = plan_workloads(sizing(args))
    if helm:
        release = (args.get("chart") or {}).get("release_name", DEFAULT_RELEASE_NAME)
        add(HELM_RELEASE, release)
        # The budgets the chart lacks (components/release.py).
        for plan in plans:
            if not plan.workload.is_monolith and plan.replicas >= 2:
                add("PodDisruptionBudget", f"{release}-{plan.workload.name}")
    else:
        for plan in plans:
            name = workload_name(instance, plan.workload)
            add("Deployment", name)
            if plan.max_replicas >= 2:
                add("PodDisruptionBudget", name)
            if plan.autoscaling:
                add("HorizontalPodAutoscaler", name)
            if plan.workload.service is not None:
                add("Service", name)

    policies = ["web", "metrics"]
    if default_deny(args):
        policies.insert(0, "default-deny-ingress")
    if runs_own_nats(args):
        policies.append("nats")
    if runs_in_cluster_mongo(args):
        policies.append("mongodb")
    for suffix in policies:
        add("NetworkPolicy", f"{instance}-{suffix}")

    monitoring = args.get("monitoring") or {}
    if monitoring.get("pod_monitor"):
        add("PodMonitor", instance)
        if runs_own_nats(args):
            add("PodMonitor", f"{instance}-nats")
    if monitoring.get("prometheus_rule"):
        add("PrometheusRule", f"{instance}-alerts")
    if monitoring.get("dashboards"):
        add("ConfigMap", f"{instance}-dashboards")

    if ingress_enabled(args):
        add("Ingress", instance)
    if gateway_parents(args):
        add("HTTPRoute", instance)
    return found
