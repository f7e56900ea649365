"""NatsCluster: the authenticated NATS bus the Rocket.Chat processes talk over (Moleculer's transporter)."""

from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components import images, k8s
from components.args import PlacementArgs, ResourcesArgs, requests_and_limits, whole
from components.catalog import (
    DEFAULT_INSTANCE,
    NATS_EXPORTER_IMAGE,
    NATS_EXPORTER_RESOURCES,
    NATS_IMAGE,
    NATS_RESOURCES,
    NATS_UID,
)
from components.credentials import ROLLOUT_ANNOTATION_PREFIX, digest_of
from components.images import ImagesArgs
from components.passwords import GeneratedPassword

CLIENT_PORT = 4222
CLUSTER_PORT = 6222
MONITOR_PORT = 8222
METRICS_PORT = 7777
"""The metrics exporter's port (named `metrics`): Prometheus's view of the server's monitoring endpoints."""
CLIENT_USER = "rocketchat"
ROUTE_USER = "route"
PID_FILE = "/var/run/nats/nats.pid"
CONFIG_DIR = "/etc/nats"
LAME_DUCK_GRACE = "10s"
LAME_DUCK_DURATION = "30s"


def _quote(value: str) -> str:
    """A NATS config string literal (the generated passwords are alphanumeric; quoting keeps any value whole)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_nats_config(
    *,
    client_password: str,
    route_password: str,
    routes: list[str],
    server_name: str = "$SERVER_NAME",
    cluster_name: str = "rocketchat",
    host: str = "0.0.0.0",
    client_port: int = CLIENT_PORT,
    cluster_port: int = CLUSTER_PORT,
    monitor_port: int = MONITOR_PORT,
    pid_file: str = PID_FILE,
) -> str:
    """The nats.conf every node runs: clients and routes both authenticated, monitoring for probes, lame duck.

    `routes` are `host:port` pairs of every node (the node's own route is ignored by the server). With a single
    route there is no cluster block at all: a lone server needs none.
    """
    lines = [
        f"server_name: {server_name}",
        f"host: {_quote(host)}",
        f"port: {client_port}",
        f"http_port: {monitor_port}",
        f"pid_file: {_quote(pid_file)}",
        f"lame_duck_grace_period: {LAME_DUCK_GRACE}",
        f"lame_duck_duration: {LAME_DUCK_DURATION}",
        "max_payload: 1MB",
        "authorization {",
        f"  users: [{{ user: {_quote(CLIENT_USER)}, password: {_quote(client_password)} }}]",
        "}",
    ]
    if len(routes) > 1:
        route_urls = ", ".join(_quote(f"nats://{ROUTE_USER}:{route_password}@{route}") for route in routes)
        lines += [
            "cluster {",
            f"  name: {_quote(cluster_name)}",
            f"  host: {_quote(host)}",
            f"  port: {cluster_port}",
            "  authorization {",
            f"    user: {_quote(ROUTE_USER)}",
            f"    password: {_quote(route_password)}",
            "  }",
            f"  routes: [{route_urls}]",
            "  connect_retries: 120",
            "}",
        ]
    return "\n".join(lines) + "\n"


def client_url(password: str, host: str, port: int = CLIENT_PORT, scheme: str = "nats") -> str:
    """The TRANSPORTER address with credentials (`monolith+nats` for a clustered monolith-only install)."""
    return f"{scheme}://{CLIENT_USER}:{password}@{host}:{port}"


class NatsClusterArgs(TypedDict):
    namespace: pulumi.Input[str]
    replicas: NotRequired[int]
    """Servers in the cluster (default 1; three is the usual size). A lone server has no cluster block."""
    instance: NotRequired[str]
    """The `app.kubernetes.io/instance` label of its objects (default `rocketchat`)."""
    image: NotRequired[str]
    resources: NotRequired[ResourcesArgs]
    placement: NotRequired[PlacementArgs]
    metrics_exporter: NotRequired[bool]
    """Run prometheus-nats-exporter beside each server (port `metrics`, 7777), for a PodMonitor to scrape."""
    images: NotRequired[ImagesArgs]
    """A registry mirror, pull secrets and digests (keys `nats`, `natsExporter`) for its images."""
    object_name: NotRequired[str]
    """The Kubernetes name of its StatefulSet and client Service, and the prefix of its other objects (default: the
    resource name). Two clusters in one namespace need two names."""


def nats_object_names(object_name: str) -> dict[str, str]:
    """The Kubernetes names of a NatsCluster's objects, by role."""
    return {
        "statefulset": object_name,
        "client_service": object_name,
        "headless_service": f"{object_name}-headless",
        "config_secret": f"{object_name}-config",
        "disruption_budget": object_name,
    }


def exporter_container(given: ImagesArgs | None = None) -> core.ContainerArgs:
    """prometheus-nats-exporter reading the server's monitoring port over localhost: the server's counters (/varz)
    and its routes (/routez), what the alerts and dashboards read, as Prometheus metrics."""
    requests, limits = NATS_EXPORTER_RESOURCES.requests, NATS_EXPORTER_RESOURCES.limits
    return core.ContainerArgs(
        name="metrics",
        image=str(images.resolve(NATS_EXPORTER_IMAGE, given, "natsExporter")),
        image_pull_policy=k8s.IMAGE_PULL_POLICY,
        args=["-port", str(METRICS_PORT), "-varz", "-routez", f"http://localhost:{MONITOR_PORT}"],
        ports=[core.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)],
        # A TCP check: an HTTP one would scrape the server, and a server still starting would restart its exporter.
        readiness_probe=core.ProbeArgs(tcp_socket=core.TCPSocketActionArgs(port="metrics"), period_seconds=10),
        liveness_probe=core.ProbeArgs(tcp_socket=core.TCPSocketActionArgs(port="metrics"), period_seconds=30),
        resources=k8s.resources(requests, limits),
        security_context=k8s.container_security(NATS_UID),
    )


class NatsCluster(pulumi.ComponentResource):
    """A StatefulSet of NATS servers with client and route authentication, generated credentials and a PDB."""

    client_url: pulumi.Output[str]
    """The authenticated `nats://` address of the cluster (a secret): Rocket.Chat's TRANSPORTER."""
    monolith_client_url: pulumi.Output[str]
    """The same as `monolith+nats://` (a secret): a monolith clustered over NATS without microservices."""
    service_name: pulumi.Output[str]
    """The client Service."""
    selector: pulumi.Output[dict[str, str]]
    """The labels of the NATS pods (for NetworkPolicies)."""

    def __init__(self, name: str, args: NatsClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:NatsCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = args["namespace"]
        replicas = whole(args.get("replicas", 1))
        # Pulumi's resource names stay the component's (the URNs of existing stacks); Kubernetes names may differ.
        names = nats_object_names(args.get("object_name", name))
        headless = names["headless_service"]
        selector = k8s.labels("nats", "nats", args.get("instance", DEFAULT_INSTANCE))
        obj_labels = k8s.object_labels(selector)
        requests, limits = requests_and_limits(NATS_RESOURCES, args.get("resources"))

        # Random credentials, generated once per stack and kept (encrypted) in its state.
        client_password = GeneratedPassword(f"{name}-client-password", opts=child)
        route_password = GeneratedPassword(f"{name}-route-password", opts=child)

        def routes(ns: str) -> list[str]:
            return [
                f"{names['statefulset']}-{i}.{headless}.{ns}.svc.cluster.local:{CLUSTER_PORT}" for i in range(replicas)
            ]

        config_text = pulumi.Output.all(namespace, client_password.result, route_password.result).apply(
            lambda v: render_nats_config(client_password=v[1], route_password=v[2], routes=routes(v[0]))
        )
        # The config holds the passwords, so it lives in a Secret; a keyed digest of it (which reveals nothing) rolls
        # the pods when it changes and stays readable in diffs.
        rollout_key = GeneratedPassword(f"{name}-rollout-key", opts=child)
        config_digest = digest_of(rollout_key.result, config_text)
        config_secret = core.Secret(
            f"{name}-config",
            metadata=k8s.metadata(names["config_secret"], namespace, obj_labels),
            type="Opaque",
            string_data={"nats.conf": pulumi.Output.secret(config_text)},
            opts=child,
        )

        ports = {"client": CLIENT_PORT, "cluster": CLUSTER_PORT, "monitor": MONITOR_PORT}
        headless_service = core.Service(
            f"{name}-headless",
            metadata=k8s.metadata(headless, namespace, obj_labels),
            spec=core.ServiceSpecArgs(
                cluster_ip="None",
                # Routes must resolve while peers are still starting, or the cluster never forms.
                publish_not_ready_addresses=True,
                selector=selector,
                ports=[core.ServicePortArgs(name=n, port=p, target_port=n) for n, p in ports.items()],
            ),
            opts=child,
        )
        client_service = core.Service(
            name,
            metadata=k8s.metadata(names["client_service"], namespace, obj_labels),
            spec=core.ServiceSpecArgs(
                selector=selector,
                ports=[core.ServicePortArgs(name="client", port=CLIENT_PORT, target_port="client")],
            ),
            opts=child,
        )

        container = core.ContainerArgs(
            name="nats",
            image=args.get("image") or str(images.resolve(NATS_IMAGE, args.get("images"), "nats")),
            image_pull_policy=k8s.IMAGE_PULL_POLICY,
            args=["--config", f"{CONFIG_DIR}/nats.conf"],
            env=[
                core.EnvVarArgs(
                    name="SERVER_NAME",
                    value_from=core.EnvVarSourceArgs(
                        field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.name")
                    ),
                ),
            ],
            ports=[core.ContainerPortArgs(name=n, container_port=p) for n, p in ports.items()],
            startup_probe=k8s.http_probe("/healthz", "monitor", period=2, failures=90),
            readiness_probe=k8s.http_probe("/healthz", "monitor"),
            liveness_probe=k8s.http_probe("/healthz?js-enabled-only=true", "monitor", period=30),
            # Lame duck: stop taking clients, let them move to a peer, then exit.
            lifecycle=core.LifecycleArgs(
                pre_stop=core.LifecycleHandlerArgs(
                    exec_=core.ExecActionArgs(command=["nats-server", f"--signal=ldm={PID_FILE}"])
                )
            ),
            resources=k8s.resources(requests, limits),
            security_context=k8s.container_security(NATS_UID),
            volume_mounts=[
                core.VolumeMountArgs(name="config", mount_path=CONFIG_DIR, read_only=True),
                core.VolumeMountArgs(name="run", mount_path="/var/run/nats"),
            ],
        )
        self.statefulset = apps.StatefulSet(
            name,
            metadata=k8s.metadata(names["statefulset"], namespace, obj_labels),
            spec=apps.StatefulSetSpecArgs(
                service_name=headless,
                replicas=replicas,
                pod_management_policy="Parallel",
                selector=meta.LabelSelectorArgs(match_labels=selector),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(
                        labels=obj_labels, annotations={f"{ROLLOUT_ANNOTATION_PREFIX}nats-conf": config_digest}
                    ),
                    spec=k8s.hardened_pod_spec(
                        uid=NATS_UID,
                        container=container,
                        volumes=[
                            core.VolumeArgs(
                                name="config",
                                secret=core.SecretVolumeSourceArgs(secret_name=config_secret.metadata.name),
                            ),
                            core.VolumeArgs(name="run", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="16Mi")),
                        ],
                        selector=selector,
                        replicas=replicas,
                        placement=args.get("placement"),
                        # Longer than the lame-duck duration so clients drain before the kill.
                        termination_grace_period_seconds=60,
                        sidecars=[exporter_container(args.get("images"))] if args.get("metrics_exporter") else None,
                        image_pull_secrets=images.pull_secrets(args.get("images")),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[headless_service]),
        )
        k8s.disruption_budget(
            name, namespace, selector, obj_labels, replicas, child, object_name=names["disruption_budget"]
        )

        self.service_name = client_service.metadata.name
        host = pulumi.Output.concat(self.service_name, ".", namespace, ".svc.cluster.local")
        self.client_url = pulumi.Output.secret(
            pulumi.Output.all(client_password.result, host).apply(lambda v: client_url(v[0], v[1]))
        )
        self.monolith_client_url = pulumi.Output.secret(
            pulumi.Output.all(client_password.result, host).apply(
                lambda v: client_url(v[0], v[1], scheme="monolith+nats")
            )
        )
        self.selector = pulumi.Output.from_input(selector)
        self.register_outputs(
            {
                "client_url": self.client_url,
                "monolith_client_url": self.monolith_client_url,
                "service_name": self.service_name,
                "selector": self.selector,
            }
        )
