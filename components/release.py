"""RocketChatRelease: the official `rocketchat` chart through helm.v3.Release, with values built from the catalog.

Release values are stored and shown in plain text (in previews, the state and the Helm release record; see
pulumi/pulumi#9781), so they never hold a credential: MongoDB, NATS and the licence all reach the pods through
Secrets this program creates, and the values only name those Secrets.

What the chart reads, and where it falls short, was checked against chart 7.0.2 rendered by real Helm
(tests/test_release_chart.py); the README's "Helm mode" section lists the limitations values cannot fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.helm import v3 as helm

from components import k8s
from components.catalog import (
    DDP_STREAMER,
    MOLECULER_METRICS_PORT,
    MONGODB_RESOURCES,
    MONOLITH,
    MONOLITH_PROMETHEUS_PORT,
    NATS_UID,
    ROCKETCHAT_UID,
    STREAM_HUB,
    Workload,
)
from components.credentials import SecretKey, rollout_annotations
from components.passwords import GeneratedPassword
from components.settings import (
    ChartConfig,
    InClusterMongoConfig,
    NatsConfig,
    Settings,
    WorkloadPlan,
    resolve_resources,
)

CHART_NAME = "rocketchat"
MONGO_SECRET_KEY = "mongo-uri"  # fixed by the chart: `existingMongodbSecret` must hold this key
BUNDLED_MONGODB_PORT = 27017
BUNDLED_MONGODB_USER = "rocketchat"
BUNDLED_MONGODB_DATABASE = "rocketchat"
BUNDLED_MONGODB_REPLICA_SET = "rs0"
# The keys the Bitnami MongoDB chart (13.x) reads from `auth.existingSecret`.
BUNDLED_MONGODB_AUTH_KEYS = (
    "mongodb-passwords",
    "mongodb-root-password",
    "mongodb-metrics-password",
    "mongodb-replica-set-key",
)


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


def pod_security_values(uid: int = ROCKETCHAT_UID) -> dict[str, Any]:
    return _plain(k8s.pod_security(uid))


def container_security_values(uid: int = ROCKETCHAT_UID) -> dict[str, Any]:
    return _plain(k8s.container_security(uid))


# The chart's monolith template; it mounts an emptyDir `tmp` at /tmp of its own.
CHART_MONOLITH_TEMPLATE = "templates/chat-deployment.yaml"


def services_only(items: list[dict[str, Any]]) -> str:
    """`items` as a value the chart renders into every Deployment but its monolith's.

    The chart adds `extraVolumes`/`extraVolumeMounts` to all its Rocket.Chat Deployments and renders them with `tpl`
    in the context of the template at hand, so `.Template.Name` says which Deployment is being rendered. The monolith
    already has a `tmp` volume at /tmp: a second one is a duplicate the API server rejects.
    """
    guard = f'{{{{- if not (hasSuffix "{CHART_MONOLITH_TEMPLATE}" .Template.Name) }}}}'
    return "\n".join([guard, *block_yaml(items), "{{- end }}"])


def block_yaml(value: Any, indent: str = "") -> list[str]:
    """Lines of block-style YAML for lists of mappings of strings (the chart indents them where they belong; a flow
    sequence would not parse at that indentation). Strings are written as JSON strings, which YAML reads as such."""
    lines: list[str] = []
    if isinstance(value, list):
        for item in value:
            first, *rest = block_yaml(item, indent + "  ")
            lines += [f"{indent}- {first.lstrip()}", *rest]
    else:
        for key, item in value.items():
            if isinstance(item, dict):
                lines += [f"{indent}{key}:", *block_yaml(item, indent + "  ")]
            else:
                lines.append(f"{indent}{key}: {json.dumps(item)}")
    return lines


def service_scratch_values() -> dict[str, str]:
    """A writable /tmp for every service container, whose root filesystem is read-only (the images write only to
    /tmp; the monolith's /app/uploads and /tmp are the chart's own volumes)."""
    return {
        "extraVolumes": services_only([{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]),
        "extraVolumeMounts": services_only([{"name": "tmp", "mountPath": "/tmp"}]),
    }


def _resources(plan: WorkloadPlan) -> dict[str, Any]:
    return {"requests": dict(plan.requests), "limits": dict(plan.limits)}


def chart_pod_name(release: str, workload: Workload) -> str:
    """The `app.kubernetes.io/name` label the chart gives a workload's pods."""
    return "rocketchat" if workload.is_monolith else f"{release}-{workload.name}"


def chart_service_name(release: str, workload: Workload) -> str:
    """The chart's Service in front of a workload: `<release>-rocketchat` (monolith), `<release>-ddp-streamer`."""
    return f"{release}-{workload.name}"


def placement_values(settings: Settings) -> dict[str, Any]:
    """`tolerations` / `nodeSelector`, only the ones the stack sets (empty ones would hide the chart's fallbacks)."""
    scheduling = settings.config.scheduling
    values: dict[str, Any] = {}
    if scheduling.tolerations:
        values["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in scheduling.tolerations]
    if scheduling.node_selector:
        values["nodeSelector"] = dict(scheduling.node_selector)
    return values


def build_values(
    settings: Settings,
    *,
    mongo_secret: SecretKey,
    transporter_secret: SecretKey | None,
    license_secret: SecretKey | None,
    bundled_mongodb_auth_secret: str | None = None,
) -> dict[str, Any]:
    """The chart values for this stack. Pure: Secret names in, a plain dict out, with no credential anywhere in it.

    - `mongo_secret`: a Secret with key `mongo-uri` (the chart's `existingMongodbSecret`; always set, or the
      chart would build the URL, password included, from values).
    Each Secret's digest, where given, goes into the pod annotations of the workloads that read it, so that a new
    credential rolls them (the chart's `podAnnotations` and `microservices.<service>.annotations`).
    - `transporter_secret`: the Secret key holding the full TRANSPORTER URL of our NatsCluster; None uses the
      chart's bundled NATS (`rocketchat:nats.bundled`).
    - `license_secret`: the licence, handed to the monolith through `extraEnv` (the chart's `license` value would
      put it in the Deployment as a literal).
    - `bundled_mongodb_auth_secret`: switches on the chart's own MongoDB, its passwords read from that Secret.
    """
    assert mongo_secret.key == MONGO_SECRET_KEY, f"the chart reads key {MONGO_SECRET_KEY} of existingMongodbSecret"
    config = settings.config
    placement = placement_values(settings)
    # What the chart's pods read from Secrets: the services MONGO_URL and TRANSPORTER, the monolith the licence too.
    service_reads = {"MONGO_URL": mongo_secret, "TRANSPORTER": transporter_secret}
    monolith_reads = service_reads | {"ROCKETCHAT_LICENSE": license_secret}
    monolith = settings.plan(MONOLITH.key)
    assert monolith is not None

    values: dict[str, Any] = {
        "image": {"tag": str(settings.version)},
        # No `host`: the chart would set ROOT_URL to https://<host> even without TLS; ROOT_URL comes from extraEnv.
        "replicaCount": monolith.replicas,
        "resources": _resources(monolith),
        # Monolith pod and container; the service pods' pod-level context is hard-coded `{}` by the chart, so
        # each service gets the full restricted profile at container level (`microservices.<svc>.securityContext`).
        # Every chart pod carries the stack's instance label, which its NetworkPolicies select on.
        "podLabels": k8s.rocketchat_pod_labels(settings.instance),
        "securityContext": pod_security_values(),
        "containerSecurityContext": container_security_values(),
        **({"podAnnotations": annotations} if (annotations := rollout_annotations(monolith_reads)) else {}),
        **service_scratch_values(),
        **placement,
        # The chart's PDB covers the monolith only (and only above one replica); RocketChatRelease adds the rest.
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # Routing belongs to RocketChatIngress; the chart's Ingress stays off.
        "ingress": {"enabled": False},
        "prometheusScraping": {
            "enabled": True,
            "port": MONOLITH_PROMETHEUS_PORT,
            "msPort": MOLECULER_METRICS_PORT,
        },
        "podMonitor": {"enabled": config.monitoring.pod_monitor},
        # Always explicit: values.yaml defaults it to true while the chart's README says false.
        "microservices": {
            "enabled": settings.microservices,
            # Explicit either way: the chart fails when stream-hub is on from 8.0, or off up to 7.7.0.
            "streamHub": {"enabled": settings.plan(STREAM_HUB.key) is not None},
        },
        "existingMongodbSecret": mongo_secret.name,
    }
    for plan in settings.workloads:
        workload = plan.workload
        if workload.is_monolith:
            continue
        service_values: dict[str, Any] = {
            "resources": _resources(plan),
            "securityContext": container_security_values(),
            **placement,
        }
        if annotations := rollout_annotations(service_reads):
            service_values["annotations"] = annotations
        if workload.scaling != "singleton":  # the chart fixes stream-hub at one replica
            service_values["replicas"] = plan.replicas
        values["microservices"].setdefault(workload.key, {}).update(service_values)

    if bundled_mongodb_auth_secret is not None:
        assert config.mongodb.in_cluster is not None, "the bundled MongoDB needs rocketchat:mongodb.inCluster"
        values["mongodb"] = bundled_mongodb_values(bundled_mongodb_auth_secret, config.mongodb.in_cluster, placement)
    else:
        values["mongodb"] = {"enabled": False}

    if transporter_secret is not None:
        # `enabled: false` is required: with the key absent the chart deploys its NATS as well (the _validations
        # check that would catch it never runs).
        values["nats"] = {
            "enabled": False,
            "existingSecret": {"name": transporter_secret.name, "key": transporter_secret.key},
        }
    else:
        values["nats"] = bundled_nats_values(config.nats, placement)

    extra_env: list[dict[str, Any]] = [{"name": "ROOT_URL", "value": settings.url}]
    if license_secret is not None:
        # The chart's `license` value lands as a literal env var in the Deployment; read it from our Secret instead.
        extra_env.append(
            {
                "name": "ROCKETCHAT_LICENSE",
                "valueFrom": {"secretKeyRef": {"name": license_secret.name, "key": license_secret.key}},
            }
        )
    values["extraEnv"] = extra_env
    return values


def bundled_mongodb_values(
    auth_secret_name: str, in_cluster: InClusterMongoConfig, placement: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The chart's bundled (Bitnami) MongoDB with its passwords read from a Secret rather than from values."""
    persistence: dict[str, Any] = {"enabled": True, "size": in_cluster.storage}
    if in_cluster.storage_class_name:
        persistence["storageClass"] = in_cluster.storage_class_name
    requests, limits = resolve_resources(MONGODB_RESOURCES, in_cluster.resources)
    return {
        "enabled": True,
        "architecture": "replicaset",
        "replicaSetName": BUNDLED_MONGODB_REPLICA_SET,
        "replicaCount": in_cluster.replicas,
        "auth": {
            "enabled": True,
            "existingSecret": auth_secret_name,
            "usernames": [BUNDLED_MONGODB_USER],
            "databases": [BUNDLED_MONGODB_DATABASE],
        },
        "persistence": persistence,
        "resources": {"requests": requests, "limits": limits},
        # The rocketchat chart turns on a root init container that chowns the volume; the restricted namespace
        # rejects it, and the pod's fsGroup does the same job. (Bitnami's own container and pod security contexts
        # already meet the restricted profile.)
        "volumePermissions": {"enabled": False},
        **(placement or {}),
    }


def bundled_nats_values(nats: NatsConfig, placement: dict[str, Any]) -> dict[str, Any]:
    """The chart's bundled NATS (subchart nats 0.15.x): clustered, every container on the restricted profile."""
    container = container_security_values(NATS_UID)
    return {
        "enabled": True,
        "cluster": {"enabled": nats.replicas > 1, "replicas": nats.replicas},
        "securityContext": pod_security_values(NATS_UID),
        "nats": {"securityContext": container},
        "reloader": {"securityContext": container},
        "exporter": {"securityContext": container},
        "bootconfig": {"securityContext": container},
        # A debugging toolbox Deployment, running as root: not part of a production install.
        "natsbox": {"enabled": False},
        **placement,
    }


def chart_source(chart: ChartConfig) -> dict[str, Any]:
    """`chart`, `version` and `repository_opts` of the Release: an HTTP(S) chart repository, or an OCI one."""
    if chart.repo.startswith("oci://"):
        return {"chart": f"{chart.repo.rstrip('/')}/{CHART_NAME}", "version": chart.version}
    return {
        "chart": CHART_NAME,
        "version": chart.version,
        "repository_opts": helm.RepositoryOptsArgs(repo=chart.repo),
    }


def _dependencies(opts: pulumi.ResourceOptions | None) -> list[Any]:
    """The component's own `depends_on`: a Pulumi child does not inherit it, so the Release is given it directly."""
    if opts is None or opts.depends_on is None:
        return []
    if isinstance(opts.depends_on, pulumi.Resource):
        return [opts.depends_on]
    return list(opts.depends_on)  # type: ignore[arg-type]


@dataclass
class RocketChatReleaseArgs:
    settings: Settings
    namespace: pulumi.Input[str]
    mongo_secret: SecretKey | None
    """A Secret with key `mongo-uri`; None with `mongodb.inCluster` (the chart's own MongoDB)."""
    transporter_secret: SecretKey | None
    """None: the chart's bundled NATS."""
    license_secret: SecretKey | None


class RocketChatRelease(pulumi.ComponentResource):
    """Outputs: `monolith_service` and `ddp_streamer_service` (the chart's Service names, for the Ingress), `status`.

    The Release's logical name and Helm release name are both `rocketchat:chart.releaseName`, and neither depends on
    `microservices`: switching a stack between monolith and microservices upgrades the same release in place.
    """

    monolith_service: str
    ddp_streamer_service: str | None

    def __init__(self, name: str, args: RocketChatReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatRelease", name, None, opts)
        settings = args.settings
        config = settings.config
        chart = config.chart
        release = chart.release_name
        depends = _dependencies(opts)

        mongo_secret, auth_secret_name = args.mongo_secret, None
        if mongo_secret is None:
            url_secret_name, auth_secret_name, secrets = self._bundled_mongodb_secrets(release, args.namespace)
            mongo_secret = SecretKey(url_secret_name, MONGO_SECRET_KEY)  # generated once: nothing to roll for
            depends += secrets

        values = build_values(
            settings,
            mongo_secret=mongo_secret,
            transporter_secret=args.transporter_secret,
            license_secret=args.license_secret,
            bundled_mongodb_auth_secret=auth_secret_name,
        )

        self.release = helm.Release(
            release,
            name=release,
            **chart_source(chart),
            namespace=args.namespace,
            values=values,
            atomic=chart.atomic,
            cleanup_on_fail=chart.cleanup_on_fail,
            timeout=chart.timeout,
            max_history=chart.max_history,
            skip_await=chart.skip_await,
            create_namespace=False,
            # A release installed by hand is adopted with `pulumi import kubernetes:helm.sh/v3:Release <release>
            # <namespace>/<release>`, which records it at the top of the stack: the alias makes it this one.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
            ),
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

        self.monolith_service = chart_service_name(release, MONOLITH)
        self.ddp_streamer_service = chart_service_name(release, DDP_STREAMER) if settings.microservices else None
        self.register_outputs({"status": self.release.status})

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
