"""RocketChatRelease: the official `rocketchat` chart through helm.v3.Release, with values from release_values.py, and
the PodDisruptionBudgets the chart lacks."""

from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.helm import v3 as helm

from components import k8s
from components.args import PlacementArgs, SecretKeyArgs, WorkloadArgs, whole
from components.catalog import DDP_STREAMER, DEFAULT_INSTANCE, FORWARDED_COUNT_ENV, MONOLITH, Workload
from components.credentials import MONGO_SECRET_KEY, secret_key
from components.images import ImagesArgs
from components.microservices import plans_of
from components.passwords import GeneratedPassword
from components.release_values import (
    BUNDLED_MONGODB_AUTH_KEYS,
    BUNDLED_MONGODB_DATABASE,
    BUNDLED_MONGODB_PORT,
    BUNDLED_MONGODB_REPLICA_SET,
    BUNDLED_MONGODB_USER,
    BundledMongoArgs,
    build_values,
    chart_source,
)
from components.versions import DEFAULT_CHART_REPO, DEFAULT_CHART_VERSION
from components.workspace import WorkloadConfigArgs

DEFAULT_RELEASE_NAME = "rocketchat"


class ChartArgs(TypedDict, total=False):
    """Which chart, and how Helm installs it (defaults: the pinned chart, atomic, 900 s, 10 revisions kept)."""

    version: str
    repo: str
    """An HTTP(S) chart repository or an `oci://` registry."""
    release_name: str
    atomic: bool
    cleanup_on_fail: bool
    timeout: int
    max_history: int
    skip_await: bool


class RocketChatReleaseArgs(TypedDict):
    namespace: pulumi.Input[str]
    version: str
    """The Rocket.Chat version: the image tag of every workload."""
    root_url: str
    workloads: list[WorkloadArgs]
    """The monolith (key `monolith`) first, then the services to run; the monolith alone turns microservices off."""
    chart: NotRequired[ChartArgs]
    instance: NotRequired[str]
    """The label every pod of the chart carries for the stack's NetworkPolicies."""
    mongo_secret: NotRequired[SecretKeyArgs]
    """A Secret with key `mongo-uri`; without one, the chart's own MongoDB (`bundled_mongodb`), with generated
    passwords."""
    bundled_mongodb: NotRequired[BundledMongoArgs]
    transporter_secret: NotRequired[SecretKeyArgs]
    """The full TRANSPORTER URL of the stack's NATS; without one, the chart's own NATS (`bundled_nats_replicas`)."""
    bundled_nats_replicas: NotRequired[int]
    license_secret: NotRequired[SecretKeyArgs]
    placement: NotRequired[PlacementArgs]
    pod_monitor: NotRequired[bool]
    proxy_hops: NotRequired[int]
    """Proxies in front of the pods: HTTP_FORWARDED_COUNT of the monolith (`extraEnv`) and of ddp-streamer (a patch
    of the chart's Deployment: the chart takes extra environment for its monolith alone)."""
    configuration: NotRequired[WorkloadConfigArgs]
    """Rocket.Chat's own configuration (RocketChatWorkspace): the monolith's settings and secrets, the CA, uploads."""
    images: NotRequired[ImagesArgs]
    """A registry mirror and pull secrets for every image the chart runs (its Rocket.Chat images and its bundled
    MongoDB's: `global.imageRegistry`); no digests (the chart gives every Rocket.Chat image one tag)."""
    streaming_service_annotations: NotRequired[dict[str, str]]
    """Annotations for the Service websockets go to, for ingress controllers that read affinity there; the chart
    has one `service.annotations` for the monolith's and ddp-streamer's Services alike."""


CHART_METRICS_PORTS = ("metrics", "ms-metrics")
"""The metrics ports of the chart's pods (with `prometheusScraping` on): the monolith's Prometheus endpoint and
every process's Moleculer reporter."""


def chart_pod_name(release: str, workload: Workload) -> str:
    """The `app.kubernetes.io/name` label the chart gives a workload's pods."""
    return "rocketchat" if workload.is_monolith else f"{release}-{workload.name}"


def chart_service_name(release: str, workload: Workload) -> str:
    """The chart's Service in front of a workload: `<release>-rocketchat` (monolith), `<release>-ddp-streamer`."""
    return f"{release}-{workload.name}"


def _dependencies(opts: pulumi.ResourceOptions | None) -> list[Any]:
    """The component's own `depends_on`, given to the Release too: the values name Secrets by plain name, so the
    Release records no dependency on them otherwise (components/k8s.py says how depends_on reaches children)."""
    if opts is None or opts.depends_on is None:
        return []
    if isinstance(opts.depends_on, pulumi.Resource):
        return [opts.depends_on]
    return list(opts.depends_on)  # type: ignore[arg-type]


class RocketChatRelease(pulumi.ComponentResource):
    """The official chart's release, and a PodDisruptionBudget for each replicated service.

    The Release's logical name and Helm release name are both the chart's `release_name`, and neither depends on the
    workloads: switching a stack between monolith and microservices upgrades the same release in place.
    """

    monolith_service: pulumi.Output[str]
    """The chart's Service in front of the monolith (port `http`)."""
    ddp_streamer_service: pulumi.Output[str] | None
    """The chart's Service in front of ddp-streamer (port `http`); None for a monolith alone."""
    status: pulumi.Output[Any]
    """The Helm release's status."""

    def __init__(self, name: str, args: RocketChatReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatRelease", name, None, opts)
        chart = args.get("chart") or {}
        release = chart.get("release_name", DEFAULT_RELEASE_NAME)
        namespace = args["namespace"]
        plans = plans_of(args["workloads"])
        if autoscaled := [p.workload.name for p in plans if p.autoscaling]:
            raise ValueError(
                f"RocketChatRelease cannot autoscale {', '.join(autoscaled)}: the official chart sets every "
                "Deployment's replica count on each upgrade, undoing what an autoscaler chose (MicroserviceSet can)"
            )
        depends = _dependencies(opts)

        mongo_secret, auth_secret_name = args.get("mongo_secret"), None
        if mongo_secret is None:
            url_secret_name, auth_secret_name, secrets = self._bundled_mongodb_secrets(release, namespace)
            mongo_secret = secret_key(url_secret_name, MONGO_SECRET_KEY)  # generated once: nothing to roll for
            depends += secrets

        values = build_values(
            version=args["version"],
            root_url=args["root_url"],
            workloads=plans,
            instance=args.get("instance", DEFAULT_INSTANCE),
            mongo_secret=mongo_secret,
            transporter_secret=args.get("transporter_secret"),
            license_secret=args.get("license_secret"),
            bundled_mongodb=args.get("bundled_mongodb"),
            bundled_mongodb_auth_secret=auth_secret_name,
            bundled_nats_replicas=whole(args.get("bundled_nats_replicas", 1)),
            placement=args.get("placement"),
            pod_monitor=args.get("pod_monitor", False),
            service_annotations=args.get("streaming_service_annotations"),
            release_name=release,
            images=args.get("images"),
            configuration=args.get("configuration"),
            proxy_hops=args.get("proxy_hops"),
        )

        self.release = helm.Release(
            release,
            name=release,
            **chart_source(chart.get("repo", DEFAULT_CHART_REPO), chart.get("version", DEFAULT_CHART_VERSION)),
            namespace=namespace,
            values=values,
            atomic=chart.get("atomic", True),
            cleanup_on_fail=chart.get("cleanup_on_fail", True),
            timeout=whole(chart.get("timeout", 900)),
            max_history=whole(chart.get("max_history", 10)),
            skip_await=chart.get("skip_await", False),
            create_namespace=False,
            # A release installed by hand is adopted with `pulumi import kubernetes:helm.sh/v3:Release <release>
            # <namespace>/<release>`, which records it at the top of the stack: the alias makes it this one.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
            ),
        )

        # The chart has a PDB for the monolith only: guard replicated services ourselves.
        for plan in plans:
            if plan.workload.is_monolith or plan.replicas < 2:
                continue
            selector = {
                "app.kubernetes.io/name": chart_pod_name(release, plan.workload),
                "app.kubernetes.io/instance": release,
            }
            k8s.disruption_budget(
                f"{release}-{plan.workload.name}",
                namespace,
                selector,
                k8s.object_labels(selector),
                plan.replicas,
                pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
            )

        if args.get("proxy_hops") is not None and any(p.workload is DDP_STREAMER for p in plans):
            self._ddp_streamer_client_address(release, namespace, whole(args["proxy_hops"]))

        # The names the chart gives, known before it runs: they stay readable in previews (whatever routes to them
        # depends on this component, which orders it after the Release).
        self.monolith_service = pulumi.Output.from_input(chart_service_name(release, MONOLITH))
        microservices = len(plans) > 1
        self.ddp_streamer_service = (
            pulumi.Output.from_input(chart_service_name(release, DDP_STREAMER)) if microservices else None
        )
        self.status = self.release.status
        self.register_outputs(
            {
                "monolith_service": self.monolith_service,
                "ddp_streamer_service": self.ddp_streamer_service,
                "status": self.status,
            }
        )

    def _ddp_streamer_client_address(self, release: str, namespace: pulumi.Input[str], hops: int) -> None:
        """HTTP_FORWARDED_COUNT in the chart's ddp-streamer container, which takes no extra environment from the
        chart's values. A server-side-apply patch owns that one variable of the Deployment Helm made: Helm's upgrades
        merge three ways and keep what they never set, and the published chart stays as it is (a post-renderer would
        need an executable beside every `pulumi up`). It depends on the Release, so it follows the first install.

        The provider compares a patch's list with the live object's by position (the chart's env comes first), which
        would show this patch as changed in every preview: its spec is left out of diffs, and the count is in its
        name, so another count is a new patch (forced over the old one's field) and the old one is deleted."""
        name = chart_service_name(release, DDP_STREAMER)
        apps.DeploymentPatch(
            f"{name}-client-address" + ("" if hops == 1 else f"-{hops}"),
            metadata={"name": name, "namespace": namespace, "annotations": {"pulumi.com/patchForce": "true"}},
            spec={
                "template": {
                    "spec": {
                        "containers": [
                            {"name": DDP_STREAMER.name, "env": [{"name": FORWARDED_COUNT_ENV, "value": str(hops)}]}
                        ]
                    }
                }
            },
            # Deleting a patch would release the fields it co-owns, `spec.selector` among them, which the provider
            # refuses (seen on the real engine); the Deployment itself goes with the release or the monolith switch.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.release], ignore_changes=["spec"], retain_on_delete=True
            ),
        )

    def _bundled_mongodb_secrets(
        self, release: str, namespace: pulumi.Input[str]
    ) -> tuple[str, str, list[pulumi.Resource]]:
        """Generated passwords for the chart's MongoDB, in Secrets: one the Bitnami chart reads, one with the URL."""
        child = pulumi.ResourceOptions(parent=self)
        passwords = {key: GeneratedPassword(f"{release}-{key}", opts=child).result for key in BUNDLED_MONGODB_AUTH_KEYS}
        obj_labels = k8s.object_labels(k8s.labels("mongodb", "database", release))
        auth_name = f"{release}-mongodb-auth"
        auth = core.Secret(
            auth_name,
            metadata=k8s.metadata(auth_name, namespace, obj_labels),
            type="Opaque",
            string_data={k: pulumi.Output.secret(v) for k, v in passwords.items()},
            opts=child,
        )
        # Not `<release>-mongodb`: that is the Bitnami chart's own name for its StatefulSet and friends.
        url_name = f"{release}-mongodb-url"
        url = pulumi.Output.all(namespace, passwords["mongodb-passwords"]).apply(
            lambda v: (
                f"mongodb://{BUNDLED_MONGODB_USER}:{v[1]}@{release}-mongodb-headless.{v[0]}.svc.cluster.local:"
                f"{BUNDLED_MONGODB_PORT}/{BUNDLED_MONGODB_DATABASE}?replicaSet={BUNDLED_MONGODB_REPLICA_SET}"
            )
        )
        url_secret = core.Secret(
            url_name,
            metadata=k8s.metadata(url_name, namespace, obj_labels),
            type="Opaque",
            string_data={MONGO_SECRET_KEY: pulumi.Output.secret(url)},
            opts=child,
        )
        return url_name, auth_name, [auth, url_secret]
