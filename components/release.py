"""RocketChatRelease: the official `rocketchat` chart through helm.v3.Release, with values built from the catalog.

Release values are stored and shown in plain text (in previews, the state and the Helm release record), so they
never hold a credential: MongoDB, NATS and the licence all reach the pods through Secrets this program creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_random as random
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.helm import v3 as helm
from pulumi_kubernetes.meta import v1 as meta

from components import k8s
from components.catalog import (
    DDP_STREAMER,
    MOLECULER_METRICS_PORT,
    MONOLITH,
    MONOLITH_PROMETHEUS_PORT,
    ROCKETCHAT_UID,
    Workload,
)
from components.microservices import SecretKey
from components.settings import InClusterMongoConfig, Settings, WorkloadPlan

CHART_NAME = "rocketchat"
MONGO_SECRET_KEY = "mongo-uri"  # fixed by the chart
BUNDLED_MONGODB_PORT = 27017


def _plain(args: Any) -> Any:
    """A typed Pulumi input object as the camelCase dict Helm values expect."""
    if isinstance(args, list):
        return [_plain(a) for a in args]
    if hasattr(args, "__dict__") and not isinstance(args, (str, int, bool, float, dict)):
        out = {}
        for name, value in vars(args).items():
            if value is None or name.startswith("__"):
                continue
            key = name.removeprefix("_").rstrip("_")
            key = key.split("_")[0] + "".join(w.title() for w in key.split("_")[1:])
            out[key] = _plain(value)
        return out
    if isinstance(args, dict):
        return {k: _plain(v) for k, v in args.items()}
    return args


def pod_security_values() -> dict[str, Any]:
    return _plain(k8s.pod_security(ROCKETCHAT_UID))


def container_security_values() -> dict[str, Any]:
    return _plain(k8s.container_security(ROCKETCHAT_UID))


def _resources(plan: WorkloadPlan) -> dict[str, Any]:
    return {"requests": dict(plan.requests), "limits": dict(plan.limits)}


def chart_pod_name(release: str, workload: Workload) -> str:
    """The `app.kubernetes.io/name` label the chart gives a workload's pods."""
    return "rocketchat" if workload.is_monolith else f"{release}-{workload.name}"


def build_values(
    settings: Settings,
    *,
    mongo_secret_name: str | None,
    transporter_secret: SecretKey | None,
    license_secret: SecretKey | None,
    bundled_mongodb_auth_secret: str | None = None,
) -> dict[str, Any]:
    """The chart values for this stack. Pure: Secret names in, a plain dict out, with no credential anywhere in it.

    `bundled_mongodb_auth_secret` switches on the chart's own MongoDB, its passwords read from that Secret.
    """
    config = settings.config
    tolerations = [t.model_dump(by_alias=True, exclude_none=True) for t in config.scheduling.tolerations]
    node_selector = dict(config.scheduling.node_selector)
    monolith = settings.plan(MONOLITH.key)
    assert monolith is not None
    # The images write only to /tmp (and /app/uploads, which the chart mounts itself): a read-only root works.
    scratch = {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}

    values: dict[str, Any] = {
        "image": {"tag": str(settings.version)},
        "host": settings.host,
        "replicaCount": monolith.replicas,
        "resources": _resources(monolith),
        "securityContext": pod_security_values(),
        "containerSecurityContext": container_security_values(),
        "extraVolumes": [scratch],
        "extraVolumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "tolerations": tolerations,
        "nodeSelector": node_selector,
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # Routing belongs to RocketChatIngress; the chart's Ingress stays off.
        "ingress": {"enabled": False},
        "prometheusScraping": {
            "enabled": True,
            "port": MONOLITH_PROMETHEUS_PORT,
            "msPort": MOLECULER_METRICS_PORT,
        },
        "podMonitor": {"enabled": config.monitoring.pod_monitor},
        "microservices": {"enabled": settings.microservices},
    }
    for plan in settings.workloads:
        workload = plan.workload
        if workload.is_monolith:
            continue
        service_values: dict[str, Any] = {
            "resources": _resources(plan),
            "securityContext": container_security_values(),
            "tolerations": tolerations,
            "nodeSelector": node_selector,
        }
        if workload.scaling != "singleton":  # the chart fixes stream-hub at one replica
            service_values["replicas"] = plan.replicas
        values["microservices"][workload.key] = service_values
    if settings.microservices:
        # Explicit either way: the chart fails when stream-hub is on from 8.0, or off up to 7.7.0.
        values["microservices"].setdefault("streamHub", {})["enabled"] = settings.plan("streamHub") is not None

    if mongo_secret_name:
        values["existingMongodbSecret"] = mongo_secret_name
    if bundled_mongodb_auth_secret and config.mongodb.in_cluster is not None:
        values["mongodb"] = bundled_mongodb_values(bundled_mongodb_auth_secret, config.mongodb.in_cluster)
    else:
        values["mongodb"] = {"enabled": False}
    if transporter_secret is not None:
        values["nats"] = {
            "enabled": False,
            "existingSecret": {"name": transporter_secret.name, "key": transporter_secret.key},
        }
    else:
        values["nats"] = {"enabled": True, "cluster": {"replicas": config.nats.replicas}}
    if license_secret is not None:
        # The chart's `license` value lands as a literal env var in the Deployment; read it from our Secret instead.
        values["extraEnv"] = [
            {
                "name": "ROCKETCHAT_LICENSE",
                "valueFrom": {"secretKeyRef": {"name": license_secret.name, "key": license_secret.key}},
            }
        ]
    return values


def bundled_mongodb_values(auth_secret_name: str, in_cluster: InClusterMongoConfig) -> dict[str, Any]:
    """The chart's bundled (Bitnami) MongoDB with its passwords read from a Secret rather than from values."""
    persistence: dict[str, Any] = {"enabled": True, "size": in_cluster.storage}
    if in_cluster.storage_class_name:
        persistence["storageClass"] = in_cluster.storage_class_name
    return {
        "enabled": True,
        "architecture": "replicaset",
        "replicaCount": in_cluster.replicas,
        "auth": {"existingSecret": auth_secret_name, "usernames": ["rocketchat"], "databases": ["rocketchat"]},
        "persistence": persistence,
    }


@dataclass
class RocketChatReleaseArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    mongo_secret_name: str | None
    """A Secret with key `mongo-uri`; None with `mongodb.inCluster` (the chart's own MongoDB)."""
    transporter_secret: SecretKey | None
    license_secret: SecretKey | None


class RocketChatRelease(pulumi.ComponentResource):
    """Outputs: `monolith_service` and `ddp_streamer_service` (the chart's Service names, for the Ingress),
    `pod_selector` / `entry_pod_selector` (the chart's pod labels, for NetworkPolicies), `status`."""

    monolith_service: str
    ddp_streamer_service: str | None
    pod_selector: meta.LabelSelectorArgs
    entry_pod_selector: meta.LabelSelectorArgs

    def __init__(self, name: str, args: RocketChatReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatRelease", name, None, opts)
        settings = args.settings
        config = settings.config
        chart = config.chart
        release = chart.release_name
        depends: list[pulumi.Resource] = []

        mongo_secret_name, auth_secret_name = args.mongo_secret_name, None
        if mongo_secret_name is None:
            mongo_secret_name, auth_secret_name, secrets = self._bundled_mongodb_secrets(release, args.namespace)
            depends += secrets

        values = build_values(
            settings,
            mongo_secret_name=mongo_secret_name,
            transporter_secret=args.transporter_secret,
            license_secret=args.license_secret,
            bundled_mongodb_auth_secret=auth_secret_name,
        )

        self.release = helm.Release(
            release,
            name=release,
            chart=CHART_NAME,
            version=chart.version,
            repository_opts=helm.RepositoryOptsArgs(repo=chart.repo),
            namespace=args.namespace,
            values=values,
            atomic=chart.atomic,
            cleanup_on_fail=chart.cleanup_on_fail,
            timeout=chart.timeout,
            max_history=chart.max_history,
            skip_await=chart.skip_await,
            create_namespace=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )

        # The chart has a PDB for the monolith only: guard replicated services ourselves.
        for plan in settings.workloads:
            if plan.workload.is_monolith or plan.replicas < 2:
                continue
            selector = {
                "app.kubernetes.io/name": chart_pod_name(release, plan.workload),
                "app.kubernetes.io/instance": release,
            }
            k8s.disruption_budget(
                f"{release}-{plan.workload.name}",
                args.namespace,
                selector,
                k8s.object_labels(selector),
                plan.replicas,
                pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
            )

        self.monolith_service = f"{release}-{MONOLITH.name}"
        self.ddp_streamer_service = f"{release}-{DDP_STREAMER.name}" if settings.microservices else None
        instance = {"app.kubernetes.io/instance": release}

        def names_in(workloads: list[Workload]) -> meta.LabelSelectorArgs:
            return meta.LabelSelectorArgs(
                match_labels=instance,
                match_expressions=[
                    meta.LabelSelectorRequirementArgs(
                        key="app.kubernetes.io/name",
                        operator="In",
                        values=[chart_pod_name(release, w) for w in workloads],
                    )
                ],
            )

        self.pod_selector = names_in([p.workload for p in settings.workloads])
        self.entry_pod_selector = names_in([p.workload for p in settings.workloads if p.workload.service is not None])
        self.register_outputs({"status": self.release.status})

    def _bundled_mongodb_secrets(
        self, release: str, namespace: pulumi.Input[str]
    ) -> tuple[str, str, list[pulumi.Resource]]:
        """Generated passwords for the chart's MongoDB, in Secrets: one the Bitnami chart reads, one with the URL."""
        child = pulumi.ResourceOptions(parent=self)
        passwords = {
            key: random.RandomPassword(f"{release}-mongodb-{key}", length=32, special=False, opts=child).result
            for key in (
                "mongodb-passwords",
                "mongodb-root-password",
                "mongodb-metrics-password",
                "mongodb-replica-set-key",
            )
        }
        obj_labels = k8s.object_labels(k8s.labels("mongodb", "database", release))
        auth_name = f"{release}-mongodb-auth"
        auth = core.Secret(
            auth_name,
            metadata=k8s.metadata(auth_name, namespace, obj_labels),
            string_data={k: pulumi.Output.secret(v) for k, v in passwords.items()},
            opts=child,
        )
        url_name = f"{release}-mongodb"
        url = pulumi.Output.all(namespace, passwords["mongodb-passwords"]).apply(
            lambda v: (
                f"mongodb://rocketchat:{v[1]}@{release}-mongodb-headless.{v[0]}.svc.cluster.local:"
                f"{BUNDLED_MONGODB_PORT}/rocketchat?replicaSet=rs0"
            )
        )
        url_secret = core.Secret(
            url_name,
            metadata=k8s.metadata(url_name, namespace, obj_labels),
            string_data={MONGO_SECRET_KEY: pulumi.Output.secret(url)},
            opts=child,
        )
        return url_name, auth_name, [auth, url_secret]
