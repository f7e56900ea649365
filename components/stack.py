"""RocketChatStack: the whole installation, composed for mode `raw` (plain resources) or `helm` (official chart)."""

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components import k8s
from components.args import PlacementArgs, ResourcesArgs, WorkloadArgs, whole
from components.catalog import DDP_STREAMER, DEFAULT_INSTANCE, MONOLITH
from components.credentials import (
    LICENSE_KEY,
    MONGO_SECRET_KEY,
    MONOLITH_TRANSPORTER_KEY,
    TRANSPORTER_KEY,
    digest_of,
    secret_key,
)
from components.gateway import ParentRefArgs, RocketChatRoute
from components.images import ImagesArgs
from components.ingress import DEFAULT_CLASS, DEFAULT_DNS_TTL, RocketChatIngress, dns_records, ingress_controller
from components.microservices import MicroserviceSet
from components.mongodb import MongoReplicaSet
from components.monitoring import EXPORTER_DEFAULT, NATS_CHART
from components.nats import NatsCluster
from components.network import DEFAULT_INGRESS_NAMESPACE, DEFAULT_MONITORING_NAMESPACE, StackNetworkPolicies
from components.observability import RAW_METRICS_PORTS, StackMonitoring, StackMonitoringArgs
from components.ownership import owned_by
from components.passwords import GeneratedPassword
from components.planning import MonolithArgs, ServicesArgs, WorkloadPlan, plan_workloads
from components.release import CHART_METRICS_PORTS, DEFAULT_RELEASE_NAME, ChartArgs
from components.release_values import BundledMongoArgs
from components.tokens import STACK_TYPE
from components.versions import StreamHubRule, Version, stream_hub_rule
from components.workspace import (
    AdminArgs,
    RocketChatWorkspace,
    SmtpArgs,
    UploadsArgs,
    WorkloadConfigArgs,
)

DEFAULT_NAMESPACE = "rocketchat"
DEFAULT_PROXY_HOPS = 1
NATS_NAME = "nats"
"""The stack's NatsCluster resource (its URN); also the Kubernetes name of its objects in stacks made before the
instance named them (`legacy_names`)."""
MONGO_NAME = "mongodb"
"""The same for the in-cluster MongoReplicaSet."""
EXTERNAL_DNS_PREFIX = "external-dns.alpha.kubernetes.io/"


class NatsSettingsArgs(TypedDict, total=False):
    replicas: int
    """Servers of the stack's NatsCluster (default 1), or of the chart's NATS with `bundled`."""
    bundled: bool
    """Helm mode: the chart's own NATS instead of the stack's NatsCluster."""
    resources: ResourcesArgs


class MongoSettingsArgs(TypedDict, total=False):
    in_cluster: BundledMongoArgs
    """A MongoDB replica set in the cluster, for development (raw: MongoReplicaSet; helm: the chart's)."""
    keep_on_destroy: bool
    """`pulumi destroy` leaves the stack's namespace, and so the database's volumes in it, where they are (the
    namespace is retained, not deleted); the next `up` of the same stack finds them again."""


class TlsArgs(TypedDict, total=False):
    secret_name: str
    cluster_issuer: str


class IngressSettingsArgs(TypedDict, total=False):
    enabled: bool
    proxy_hops: int
    """Proxies in front of the pods (default 1: the ingress controller or gateway; more behind a cloud load balancer
    that adds its own hop): where Rocket.Chat finds the client's address in X-Forwarded-For."""
    controller: str
    """Which controller serves the class (components/controllers.py); default: what the class name usually means."""
    """Publish the Ingress (default: true without a gateway, false with one; both at once while DNS moves)."""
    class_name: str
    annotations: dict[str, str]
    tls: TlsArgs
    sticky_sessions: bool
    skip_await: bool
    controller_namespace: str
    """Where the ingress controller runs: the only namespace the web pods take traffic from."""


class GatewaySettingsArgs(TypedDict, total=False):
    parent_refs: list[ParentRefArgs]
    """The Gateways (a platform team's) the stack's HTTPRoute attaches to."""
    controller_namespace: str
    """Where the Gateway's proxies run: the web pods take traffic from there (default: the first Gateway's
    namespace)."""
    session_persistence: bool
    """Cookie session persistence on the streaming paths (Gateway API experimental channel)."""
    https: bool
    """The Gateway's listener terminates TLS for the host (default true): `ROOT_URL` is `https://`."""


class DnsArgs(TypedDict, total=False):
    ttl: int
    external_dns: bool
    """Annotate the Ingress for external-dns."""
    annotation_prefix: str


class MonitoringArgs(TypedDict, total=False):
    namespace: str
    """Where Prometheus runs: the only namespace the metrics ports take traffic from."""
    pod_monitor: bool
    """PodMonitors for the Rocket.Chat pods and the stack's NATS (whose pods then run a metrics exporter)."""
    prometheus_rule: bool
    """A PrometheusRule with the stack's alerts."""
    dashboards: bool
    """Grafana dashboards in a ConfigMap the Grafana sidecar loads."""
    labels: dict[str, str]
    """Extra labels of the PodMonitors and the PrometheusRule: what the Prometheus's selectors look for."""
    runbook_url: str
    """Where the alerts' runbook is published: each alert links to `<url>#<alert name>`."""


class RocketChatStackArgs(TypedDict):
    """A whole Rocket.Chat installation, in the words of the stack config (README: "Configuring a stack")."""

    mode: str
    """`raw` (the components' own Kubernetes objects) or `helm` (the official chart)."""
    host: str
    version: str
    namespace: NotRequired[str]
    create_namespace: NotRequired[bool]
    """False: deploy into a namespace someone else made (it must exist); its Pod Security labels are theirs."""
    instance: NotRequired[str]
    """Names and labels the stack's own objects; keep it across mode switches (default: `rocketchat` in raw mode, the
    release name in helm mode)."""
    microservices: NotRequired[bool]
    concurrent_users: NotRequired[int]
    monolith: NotRequired[MonolithArgs]
    services: NotRequired[ServicesArgs]
    nats: NotRequired[NatsSettingsArgs]
    mongodb: NotRequired[MongoSettingsArgs]
    mongo_url: NotRequired[pulumi.Input[str]]
    """The external MongoDB replica set's URL (a secret); required unless `mongodb.in_cluster` is given."""
    license: NotRequired[pulumi.Input[str]]
    """The Enterprise licence (a secret)."""
    chart: NotRequired[ChartArgs]
    ingress: NotRequired[IngressSettingsArgs]
    gateway: NotRequired[GatewaySettingsArgs]
    dns: NotRequired[DnsArgs]
    scheduling: NotRequired[PlacementArgs]
    monitoring: NotRequired[MonitoringArgs]
    images: NotRequired[ImagesArgs]
    """A registry mirror, pull secrets and digests for every image of the stack (components/images.py)."""
    settings: NotRequired[dict[str, str]]
    """Rocket.Chat setting id -> value as the environment gives it (`true`, `42`, text): forced on every start."""
    secret_settings: NotRequired[dict[str, pulumi.Input[str]]]
    """Rocket.Chat setting id -> secret value, kept in the stack's `<instance>-settings` Secret."""
    admin: NotRequired[AdminArgs]
    """The first admin (created when none exists; the setup wizard is then skipped)."""
    admin_password: NotRequired[pulumi.Input[str]]
    smtp: NotRequired[SmtpArgs]
    smtp_password: NotRequired[pulumi.Input[str]]
    uploads: NotRequired[UploadsArgs]
    trusted_ca: NotRequired[str]
    """The organisation's CA (PEM), trusted by every Rocket.Chat container."""
    owner: NotRequired[str]
    """Recorded on every Kubernetes object of the stack (`rocketchat.chat/owned-by`): `<organization>/<project>/<stack>`
    of the Pulumi stack that makes them."""
    legacy_names: NotRequired[bool]
    """Keep the fixed names `nats` and `mongodb` that NATS and MongoDB had before the instance named them (a stack
    made then keeps them: renaming a StatefulSet replaces it)."""


def stack_instance(args: RocketChatStackArgs) -> str:
    """Names and labels the stack's own objects: `instance`, else the default in raw mode and the release in helm."""
    if args.get("instance"):
        return args["instance"]
    if args["mode"] == "helm":
        return (args.get("chart") or {}).get("release_name", DEFAULT_RELEASE_NAME)
    return DEFAULT_INSTANCE


WORKSPACE_KEYS = (
    "settings",
    "secret_settings",
    "admin",
    "admin_password",
    "smtp",
    "smtp_password",
    "uploads",
    "trusted_ca",
)
"""The stack's args RocketChatWorkspace takes, under the same names."""


def runs_own_nats(args: RocketChatStackArgs) -> bool:
    """The stack's NatsCluster, unless a helm stack asks for the chart's bundled NATS."""
    return not (args["mode"] == "helm" and (args.get("nats") or {}).get("bundled", False))


def runs_in_cluster_mongo(args: RocketChatStackArgs) -> bool:
    """A MongoReplicaSet of the stack's own (raw mode; helm mode's in-cluster database is the chart's)."""
    in_cluster = (args.get("mongodb") or {}).get("in_cluster")
    return args.get("mongo_url") is None and in_cluster is not None and args["mode"] == "raw"


def default_deny(args: RocketChatStackArgs) -> bool:
    """Deny-by-default only where every pod of the stack has its allow rules (not the chart's NATS or MongoDB)."""
    return runs_own_nats(args) and (args.get("mongo_url") is not None or runs_in_cluster_mongo(args))


def streaming_service_annotations(args: RocketChatStackArgs) -> dict[str, str]:
    """What the Ingress's controller reads on the websocket Service (Traefik's and HAProxy's cookie affinity)."""
    if not ingress_enabled(args):
        return {}
    settings = args.get("ingress") or {}
    controller = ingress_controller(settings.get("class_name", DEFAULT_CLASS), settings.get("controller"))
    return controller.service_annotations(settings.get("sticky_sessions", True)) if controller else {}


def ingress_enabled(args: RocketChatStackArgs) -> bool:
    """The Ingress is published unless turned off; by default only where no Gateway carries the traffic."""
    return (args.get("ingress") or {}).get("enabled", not gateway_parents(args))


def gateway_parents(args: RocketChatStackArgs) -> list[ParentRefArgs]:
    return list((args.get("gateway") or {}).get("parent_refs") or [])


def gateway_namespace(args: RocketChatStackArgs) -> str | None:
    """Where the Gateway's proxies run (they open connections to the web pods)."""
    parents = gateway_parents(args)
    if not parents:
        return None
    given = (args.get("gateway") or {}).get("controller_namespace")
    return given or parents[0].get("namespace") or args.get("namespace", DEFAULT_NAMESPACE)


def nats_object_name(args: RocketChatStackArgs) -> str:
    """The Kubernetes name of the stack's NATS: the instance's, so that two instances share a namespace."""
    return NATS_NAME if args.get("legacy_names") else f"{stack_instance(args)}-nats"


def mongo_object_name(args: RocketChatStackArgs) -> str:
    return MONGO_NAME if args.get("legacy_names") else f"{stack_instance(args)}-mongodb"


def stack_url(args: RocketChatStackArgs) -> str:
    """`https` where the Ingress has TLS, or a Gateway's listener terminates it (`gateway.https`, the default)."""
    tls = (args.get("ingress") or {}).get("tls")
    if gateway_parents(args):
        tls = tls or (args.get("gateway") or {}).get("https", True)
    return f"{'https' if tls else 'http'}://{args['host']}"


def replica_counts(args: RocketChatStackArgs) -> dict[str, int | str]:
    """Pods per workload, as the `replicas` output gives them: Rocket.Chat's (`min..max` where a workload autoscales),
    NATS (ours or the chart's), MongoDB."""
    plans, _ = plan_workloads(sizing(args))
    counts: dict[str, int | str] = {p.workload.name: p.count for p in plans}
    counts["nats"] = whole((args.get("nats") or {}).get("replicas", 1))
    in_cluster = (args.get("mongodb") or {}).get("in_cluster")
    if in_cluster is not None:
        counts["mongodb"] = whole(in_cluster.get("replicas", 1))
    return counts


def workload_args(plan: WorkloadPlan) -> WorkloadArgs:
    """A planned workload as MicroserviceSet and RocketChatRelease take it."""
    given: WorkloadArgs = {
        "key": plan.workload.key,
        "replicas": plan.replicas,
        "resources": {"requests": plan.requests, "limits": plan.limits},
    }
    if plan.autoscaling:
        given["autoscaling"] = {
            "min_replicas": plan.autoscaling.min_replicas,
            "max_replicas": plan.autoscaling.max_replicas,
            "target_cpu_utilization_percentage": plan.autoscaling.target_cpu_percent,
        }
    return given


def monitoring_args(
    args: RocketChatStackArgs, plans: tuple[WorkloadPlan, ...], nats_pods: pulumi.Input[dict[str, str]] | None
) -> StackMonitoringArgs:
    """What StackMonitoring watches of this stack: its workloads, and NATS (the stack's own, or the chart's)."""
    monitoring = args.get("monitoring") or {}
    helm = args["mode"] == "helm"
    release = (args.get("chart") or {}).get("release_name", DEFAULT_RELEASE_NAME)
    version = Version.parse(args["version"])
    return _without_none(
        {
            "namespace": args.get("namespace", DEFAULT_NAMESPACE),
            "instance": stack_instance(args),
            "workloads": [p.workload.key for p in plans],
            "workload_prefix": release if helm else stack_instance(args),
            "metrics_ports": list(CHART_METRICS_PORTS if helm else RAW_METRICS_PORTS),
            "pod_monitor": monitoring.get("pod_monitor", False),
            "nats_pods": nats_pods if monitoring.get("pod_monitor") else None,
            # The chart's bundled NATS: its StatefulSet and the prefix its exporter gives the metrics.
            "nats_statefulset": nats_object_name(args) if nats_pods is not None else f"{release}-nats",
            "nats_metrics_prefix": EXPORTER_DEFAULT.prefix if nats_pods is not None else NATS_CHART.prefix,
            "prometheus_rule": monitoring.get("prometheus_rule", False),
            "dashboards": monitoring.get("dashboards", False),
            "stream_hub_required": args.get("microservices", True)
            and stream_hub_rule(version) is StreamHubRule.REQUIRED,
            "labels": dict(monitoring.get("labels") or {}) or None,
            "runbook_url": monitoring.get("runbook_url"),
        }
    )


def check_stack_args(args: RocketChatStackArgs) -> None:
    """What the component cannot do without, said plainly to a program that gives other args (this repository's
    program validates its stack config before, with every problem named: stack_config)."""
    if args.get("mode") not in ("raw", "helm"):
        raise ValueError(f"RocketChatStack: mode must be 'raw' or 'helm', not {args.get('mode')!r}")
    if args.get("mongo_url") is None and (args.get("mongodb") or {}).get("in_cluster") is None:
        raise ValueError("RocketChatStack: give mongo_url (an external replica set) or mongodb.in_cluster")


def sizing(args: RocketChatStackArgs) -> Any:
    return {
        "version": args["version"],
        "microservices": args.get("microservices", True),
        "concurrent_users": args.get("concurrent_users", 0),
        "monolith": args.get("monolith") or {},
        "services": args.get("services") or {},
        "licensed": args.get("license") is not None,
    }


@dataclass(frozen=True)
class StackSecrets:
    """The stack's own Secrets (labelled, in its namespace), and how its pods read a key of one of them."""

    parent: pulumi.Resource
    namespace: pulumi.Input[str]
    opts: pulumi.ResourceOptions
    labels: dict[str, str]
    rollout_key: pulumi.Input[str]
    """Keys the digests in the pods' rollout annotations (components/credentials.py)."""
    by_name: bool
    """Helm mode: the pods read a Secret by its plain name (readable values); raw mode: by the Secret's output, which
    also orders the Deployments after it."""

    def make(self, secret_name: str, data: dict[str, pulumi.Input[str]]) -> core.Secret:
        return core.Secret(
            secret_name,
            metadata=k8s.metadata(secret_name, self.namespace, self.labels),
            type="Opaque",
            string_data={k: pulumi.Output.secret(v) for k, v in data.items()},
            opts=self.opts,
        )

    def read(self, source: core.Secret | None, name: str, key: str, value: pulumi.Input[str] | None) -> Any:
        """A key of one of these Secrets as a pod reads it, with the digest that rolls the pod when it changes."""
        if source is None or value is None:
            return None
        return secret_key(name if self.by_name else source.metadata.name, key, digest_of(self.rollout_key, value))


@dataclass
class Bus:
    """NATS as the pods reach it: the stack's NatsCluster (None: the chart's bundled one) and its Secret."""

    nats: NatsCluster | None = None
    secret: core.Secret | None = None
    urls: dict[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass
class Database:
    """MongoDB as the pods reach it: the external URL or the in-cluster MongoReplicaSet's, and its Secret."""

    replica_set: MongoReplicaSet | None = None
    url: pulumi.Input[str] | None = None
    secret: core.Secret | None = None


@dataclass
class Entry:
    """What the Ingress routes to: the workloads' component, and the monolith's and ddp-streamer's Services."""

    workloads: pulumi.Resource
    monolith_service: pulumi.Input[str]
    ddp_streamer_service: pulumi.Input[str] | None


class RocketChatStack(pulumi.ComponentResource):
    """Namespace, NATS, MongoDB (in-cluster or external), Rocket.Chat (raw or Helm), NetworkPolicies and Ingress."""

    url: pulumi.Output[str]
    """What users open (`ROOT_URL`)."""
    host: pulumi.Output[str]
    namespace: pulumi.Output[str]
    mode: pulumi.Output[str]
    version: pulumi.Output[str]
    ingress_address: pulumi.Output[str]
    """The load balancer's IP or host name once the ingress controller publishes one; "" until then (or without an
    Ingress)."""
    gateway_address: pulumi.Output[str]
    """The first parent Gateway's address; "" until it has one (or without a Gateway)."""
    served_by: pulumi.Output[str]
    """`gateway` where the stack is published on a Gateway (DNS points there), else `ingress`."""
    dns_records: pulumi.Output[list[dict[str, Any]]]
    """What DNS should hold for the host: an A, AAAA or CNAME record of the address that serves it (none until there is
    one)."""
    replicas: pulumi.Output[dict[str, Any]]
    """Pods per workload: a number, or `min..max` (a string) where the workload autoscales."""
    instance: pulumi.Output[str]
    """The name and label the stack's own objects carry."""

    def __init__(self, name: str, args: RocketChatStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.get("owner"):
            # Every Kubernetes object below records the stack that owns it (components/ownership.py).
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[owned_by(args["owner"])]))
        super().__init__(STACK_TYPE, name, None, opts)
        check_stack_args(args)
        self._args = args
        self._instance = stack_instance(args)

        namespace = self._namespace()
        ns: pulumi.Input[str] = namespace.metadata.name if namespace else args.get("namespace", DEFAULT_NAMESPACE)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace] if namespace else None)
        secrets = StackSecrets(
            parent=self,
            namespace=ns,
            opts=in_ns,
            labels=k8s.object_labels(k8s.labels("rocketchat", "credentials", self._instance)),
            rollout_key=GeneratedPassword("rollout-key", opts=pulumi.ResourceOptions(parent=self)).result,
            by_name=args["mode"] == "helm",
        )
        bus = self._bus(ns, in_ns, secrets)
        database = self._database(in_ns, secrets)
        license_value = pulumi.Output.secret(args["license"]) if args.get("license") is not None else None
        license_secret = (
            secrets.make(f"{self._instance}-license", {LICENSE_KEY: license_value}) if license_value else None
        )
        # Rocket.Chat starts only once what it reads exists (see components/k8s.py on depends_on and children).
        needs = pulumi.ResourceOptions(
            parent=self,
            depends_on=[r for r in (namespace, bus.nats, bus.secret, database.secret, license_secret) if r is not None],
        )
        workspace = self._workspace(ns, in_ns, secrets)
        if workspace is not None:
            needs = pulumi.ResourceOptions.merge(needs, pulumi.ResourceOptions(depends_on=[workspace]))
        entry = self._rocketchat(
            ns,
            needs,
            secrets,
            bus,
            database,
            (license_secret, license_value),
            workspace.workloads if workspace else None,
        )
        self._network_policies(ns, namespace, bus, database, entry)
        self._monitoring(in_ns, bus)
        ingress = self._ingress(ns, entry) if ingress_enabled(args) else None
        route = self._route(ns, entry) if gateway_parents(args) else None
        self._publish(ns, ingress, route)

    def _namespace(self) -> core.Namespace | None:
        """The stack's own namespace; None where (create_namespace False) its owner made it, with their labels and
        quotas."""
        args = self._args
        if not args.get("create_namespace", True):
            return None
        name = args.get("namespace", DEFAULT_NAMESPACE)
        return core.Namespace(
            name,
            metadata=meta.ObjectMetaArgs(
                name=name,
                labels={
                    "app.kubernetes.io/part-of": k8s.PART_OF,
                    "app.kubernetes.io/managed-by": "pulumi",
                    # Every pod of this stack meets the restricted Pod Security Standard; the API server enforces it.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            # Kept on destroy where the stack's in-cluster database should outlive it (its volumes live here).
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=bool((args.get("mongodb") or {}).get("keep_on_destroy"))
            ),
        )

    def _bus(self, ns: pulumi.Input[str], in_ns: pulumi.ResourceOptions, secrets: StackSecrets) -> Bus:
        """NATS: the stack's own (authenticated, clustered) unless a helm stack asks for the chart's bundled one."""
        args = self._args
        if not runs_own_nats(args):
            return Bus()
        settings = args.get("nats") or {}
        nats = NatsCluster(
            NATS_NAME,
            _without_none(
                {
                    "namespace": ns,
                    "replicas": settings.get("replicas", 1),
                    "instance": self._instance,
                    "object_name": nats_object_name(args),
                    "images": args.get("images"),
                    "resources": settings.get("resources") or {},
                    "placement": args.get("scheduling") or {},
                    # Scraped: each server gets its metrics exporter.
                    "metrics_exporter": True if _scraped(args) else None,
                }
            ),
            opts=in_ns,
        )
        urls = {TRANSPORTER_KEY: nats.client_url, MONOLITH_TRANSPORTER_KEY: nats.monolith_client_url}
        return Bus(nats, secrets.make(f"{self._instance}-bus", urls), urls)

    def _database(self, in_ns: pulumi.ResourceOptions, secrets: StackSecrets) -> Database:
        """MongoDB: the external replica set of `mongo_url`, or an in-cluster one for development."""
        args = self._args
        database = Database()
        if args.get("mongo_url") is not None:
            database.url = pulumi.Output.secret(args["mongo_url"])
        elif runs_in_cluster_mongo(args):
            in_cluster = (args.get("mongodb") or {}).get("in_cluster") or {}
            database.replica_set = MongoReplicaSet(
                MONGO_NAME,
                _without_none(
                    {
                        "namespace": args.get("namespace", DEFAULT_NAMESPACE),
                        "object_name": mongo_object_name(args),
                        "images": args.get("images"),
                        "replicas": in_cluster.get("replicas"),
                        "storage": in_cluster.get("storage"),
                        "storage_class_name": in_cluster.get("storage_class_name"),
                        "instance": self._instance,
                        "resources": in_cluster.get("resources"),
                        "placement": args.get("scheduling") or {},
                    }
                ),
                opts=in_ns,
            )
            database.url = database.replica_set.url
        if database.url is not None:
            database.secret = secrets.make(f"{self._instance}-mongodb", {MONGO_SECRET_KEY: database.url})
        return database

    def _workspace(
        self, ns: pulumi.Input[str], in_ns: pulumi.ResourceOptions, secrets: StackSecrets
    ) -> RocketChatWorkspace | None:
        """Rocket.Chat's own configuration: settings and their secrets, the first admin, mail, uploads, the CA."""
        args = self._args
        given = {key: args[key] for key in WORKSPACE_KEYS if args.get(key) is not None}  # type: ignore[literal-required]
        if not given:
            return None
        return RocketChatWorkspace(
            "workspace",
            {"namespace": ns, "instance": self._instance, "rollout_key": secrets.rollout_key, **given},  # type: ignore[typeddict-item]
            opts=in_ns,
        )

    def _rocketchat(
        self,
        ns: pulumi.Input[str],
        needs: pulumi.ResourceOptions,
        secrets: StackSecrets,
        bus: Bus,
        database: Database,
        licence: tuple[core.Secret | None, pulumi.Input[str] | None],
        configuration: WorkloadConfigArgs | None,
    ) -> Entry:
        """Rocket.Chat's workloads: the official chart in helm mode, MicroserviceSet in raw mode."""
        args, instance = self._args, self._instance
        microservices = args.get("microservices", True)
        plans, _ = plan_workloads(sizing(args))
        workloads: list[WorkloadArgs] = [workload_args(p) for p in plans]
        # A monolith alone reads `monolith+nats://`: plain `nats://` would switch it into microservices mode.
        transporter_key = TRANSPORTER_KEY if microservices else MONOLITH_TRANSPORTER_KEY
        mongo_read = secrets.read(database.secret, f"{instance}-mongodb", MONGO_SECRET_KEY, database.url)
        transporter_read = secrets.read(bus.secret, f"{instance}-bus", transporter_key, bus.urls.get(transporter_key))
        license_read = secrets.read(licence[0], f"{instance}-license", LICENSE_KEY, licence[1])
        # What both renderings of the workloads take alike.
        shared = {
            "placement": args.get("scheduling") or {},
            "images": args.get("images"),
            "configuration": configuration,
            "proxy_hops": (args.get("ingress") or {}).get("proxy_hops", DEFAULT_PROXY_HOPS),
            "streaming_service_annotations": streaming_service_annotations(args) or None,
        }
        if args["mode"] == "helm":
            from components.release import RocketChatRelease

            in_cluster = (args.get("mongodb") or {}).get("in_cluster")
            release = RocketChatRelease(
                "rocketchat",
                _without_none(
                    {
                        "namespace": ns,
                        "version": args["version"],
                        "root_url": stack_url(args),
                        "workloads": workloads,
                        "chart": args.get("chart") or {},
                        "instance": instance,
                        # Plain names, not outputs: the values stay readable in previews; depends_on orders creation.
                        "mongo_secret": mongo_read,
                        "bundled_mongodb": in_cluster if mongo_read is None else None,
                        "transporter_secret": transporter_read,
                        "bundled_nats_replicas": (args.get("nats") or {}).get("replicas", 1),
                        "license_secret": license_read,
                        **shared,
                        # No chart PodMonitor: StackMonitoring's selects the pods of both modes alike.
                    }
                ),
                opts=needs,
            )
            return Entry(release, release.monolith_service, release.ddp_streamer_service)
        assert mongo_read is not None and transporter_read is not None
        workload_set = MicroserviceSet(
            "rocketchat",
            _without_none(
                {
                    "namespace": ns,
                    "version": args["version"],
                    "root_url": stack_url(args),
                    "workloads": workloads,
                    "mongo_url": mongo_read,
                    "transporter": transporter_read,
                    "license": license_read,
                    "instance": instance,
                    **shared,
                }
            ),
            opts=needs,
        )
        return Entry(
            workload_set,
            workload_set.service_names.apply(lambda names: names[MONOLITH.key]),
            # None for a monolith alone: no ddp-streamer runs.
            workload_set.service_names.apply(lambda names: names[DDP_STREAMER.key]) if microservices else None,
        )

    def _network_policies(
        self, ns: pulumi.Input[str], namespace: core.Namespace | None, bus: Bus, database: Database, entry: Entry
    ) -> None:
        args = self._args
        monitoring = args.get("monitoring") or {}
        StackNetworkPolicies(
            "network",
            _without_none(
                {
                    "namespace": ns,
                    "instance": self._instance,
                    "ingress_namespace": (args.get("ingress") or {}).get(
                        "controller_namespace", DEFAULT_INGRESS_NAMESPACE
                    ),
                    "gateway_namespace": gateway_namespace(args),
                    "monitoring_namespace": monitoring.get("namespace", DEFAULT_MONITORING_NAMESPACE),
                    "nats_pods": bus.nats.selector if bus.nats else None,
                    "nats_metrics": True if bus.nats and _scraped(args) else None,
                    "mongo_pods": database.replica_set.selector if database.replica_set else None,
                    # The chart's own NATS or MongoDB pods have no allow rules here: do not cut them off.
                    "default_deny": default_deny(args),
                }
            ),
            # After the workloads: pods that are rolling to carry the instance label keep what they are allowed
            # until they all carry it (and on a first `up`, nothing is denied while the pods start).
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[r for r in (namespace, entry.workloads) if r is not None]
            ),
        )

    def _monitoring(self, in_ns: pulumi.ResourceOptions, bus: Bus) -> None:
        args = self._args
        monitoring = args.get("monitoring") or {}
        if _scraped(args) or monitoring.get("prometheus_rule") or monitoring.get("dashboards"):
            plans, _ = plan_workloads(sizing(args))
            StackMonitoring(
                "monitoring", monitoring_args(args, plans, bus.nats.selector if bus.nats else None), opts=in_ns
            )

    def _front_door(self, ns: pulumi.Input[str], entry: Entry) -> dict[str, Any]:
        """What the Ingress and the Gateway route both take: where traffic goes, and external-dns's annotations."""
        args = self._args
        dns = args.get("dns") or {}
        return {
            "namespace": ns,
            "host": args["host"],
            "monolith_service": entry.monolith_service,
            "ddp_streamer_service": entry.ddp_streamer_service,  # None for a monolith alone: no ddp-streamer runs
            "external_dns_prefix": dns.get("annotation_prefix", EXTERNAL_DNS_PREFIX)
            if dns.get("external_dns")
            else None,
            "dns_ttl": dns_ttl(args),
            "instance": self._instance,
        }

    def _ingress(self, ns: pulumi.Input[str], entry: Entry) -> RocketChatIngress:
        args = self._args
        settings = args.get("ingress") or {}
        tls = settings.get("tls") or {}
        return RocketChatIngress(
            self._instance,
            _without_none(
                {
                    **self._front_door(ns, entry),
                    "class_name": settings.get("class_name", DEFAULT_CLASS),
                    "controller": settings.get("controller"),
                    "tls_secret_name": tls.get("secret_name"),
                    "cluster_issuer": tls.get("cluster_issuer"),
                    "sticky_sessions": settings.get("sticky_sessions", True),
                    "annotations": dict(settings.get("annotations") or {}),
                    "skip_await": settings.get("skip_await", False),
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry.workloads]),
        )

    def _route(self, ns: pulumi.Input[str], entry: Entry) -> RocketChatRoute:
        args = self._args
        gateway = args.get("gateway") or {}
        return RocketChatRoute(
            self._instance,
            _without_none(
                {
                    **self._front_door(ns, entry),
                    "parent_refs": gateway_parents(args),
                    "session_persistence": gateway.get("session_persistence") or None,
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry.workloads]),
        )

    def _publish(self, ns: pulumi.Input[str], ingress: RocketChatIngress | None, route: RocketChatRoute | None) -> None:
        """The outputs contract (README: "Stack outputs"): DNS follows the Gateway where one carries the traffic."""
        args = self._args
        host, ttl = args["host"], dns_ttl(args)
        none: pulumi.Output[str] = pulumi.Output.from_input("")
        self.ingress_address = ingress.address if ingress else none
        self.gateway_address = route.address if route else none
        self.served_by = pulumi.Output.from_input("gateway" if route else "ingress")
        serving = self.gateway_address if route else self.ingress_address
        self.url = pulumi.Output.from_input(stack_url(args))
        self.host = pulumi.Output.from_input(host)
        self.namespace = pulumi.Output.from_input(ns)
        self.mode = pulumi.Output.from_input(args["mode"])
        self.version = pulumi.Output.from_input(args["version"])
        self.dns_records = serving.apply(lambda address: dns_records(host, address, ttl))
        self.replicas = pulumi.Output.from_input(replica_counts(args))
        self.instance = pulumi.Output.from_input(self._instance)
        self.register_outputs(
            {
                # Not a stack output: the next run reads it back to keep this stack's objects (stack_config).
                "instance": self.instance,
                "url": self.url,
                "host": self.host,
                "namespace": self.namespace,
                "mode": self.mode,
                "version": self.version,
                "ingressAddress": self.ingress_address,
                "gatewayAddress": self.gateway_address,
                "servedBy": self.served_by,
                "dnsRecords": self.dns_records,
                "replicas": self.replicas,
            }
        )


def dns_ttl(args: RocketChatStackArgs) -> int:
    return whole((args.get("dns") or {}).get("ttl", DEFAULT_DNS_TTL))


def _scraped(args: RocketChatStackArgs) -> bool:
    """PodMonitors are asked for: the stack's NATS servers then run their metrics exporter."""
    return bool((args.get("monitoring") or {}).get("pod_monitor", False))


def _without_none(values: dict[str, Any]) -> Any:
    """Args with the keys the stack leaves unset taken out (a TypedDict's optional keys are absent, not None)."""
    return {k: v for k, v in values.items() if v is not None}
