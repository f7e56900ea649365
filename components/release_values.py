"""The official `rocketchat` chart's values for a stack, built from the catalog: pure functions, no resource.

Release values are stored and shown in plain text (in previews, the state and the Helm release record; see
pulumi/pulumi#9781), so they never hold a credential: MongoDB, NATS and the licence all reach the pods through
Secrets the stack makes, and the values only name those Secrets.

What the chart reads, and where it falls short, was checked against chart 7.0.2 rendered by real Helm
(tests/test_release_chart.py); docs/helm-chart.md lists the limitations values cannot fix.
"""

import json
from typing import Any, TypedDict

from pulumi_kubernetes.helm import v3 as helm

from components import k8s
from components.args import PlacementArgs, ResourcesArgs, SecretKeyArgs, requests_and_limits, whole
from components.catalog import (
    FORWARDED_COUNT_ENV,
    MOLECULER_METRICS_PORT,
    MONGODB_RESOURCES,
    MONOLITH,
    MONOLITH_PROMETHEUS_PORT,
    NATS_UID,
    ROCKETCHAT_UID,
    STREAM_HUB,
    WORKLOADS_BY_KEY,
    Workload,
)
from components.credentials import MONGO_SECRET_KEY, rollout_annotations
from components.images import ImagesArgs, parse, pull_secrets
from components.mongodb import DEFAULT_STORAGE
from components.planning import WorkloadPlan
from components.version_table import (
    APPS_ENGINE_SIZE,
    APPS_ENGINE_VOLUME,
    apps_engine_seed_container,
    apps_engine_writable_dir,
    monolith_probes,
)
from components.workspace import CA_MOUNT_DIR, WorkloadConfigArgs, env_values

CHART_NAME = "rocketchat"
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


class BundledMongoArgs(TypedDict, total=False):
    """The chart's own (Bitnami) MongoDB replica set, for development."""

    replicas: int
    storage: str
    storage_class_name: str
    resources: ResourcesArgs


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


def monolith_only(items: list[dict[str, Any]]) -> str:
    """`items` as a value the chart renders into its monolith's Deployment alone (see `services_only`)."""
    guard = f'{{{{- if hasSuffix "{CHART_MONOLITH_TEMPLATE}" .Template.Name }}}}'
    return "\n".join([guard, *block_yaml(items), "{{- end }}"])


def service_scratch_values(
    trusted_ca_config_map: str | None = None, apps_engine_dir: str | None = None
) -> dict[str, str]:
    """A writable /tmp for every service container, whose root filesystem is read-only (the images write only to
    /tmp; the monolith's /app/uploads and /tmp are the chart's own volumes); the organisation's CA, read-only, in
    every Rocket.Chat container, where given; and the monolith's Apps-Engine runtime directory, where its version
    writes there (filled by `apps_engine_init_values`)."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if trusted_ca_config_map:
        volumes.append({"name": "trusted-ca", "configMap": {"name": trusted_ca_config_map}})
        mounts.append({"name": "trusted-ca", "mountPath": CA_MOUNT_DIR, "readOnly": True})
    monolith_volumes: list[str] = []
    monolith_mounts: list[str] = []
    if apps_engine_dir:
        volume = {"name": APPS_ENGINE_VOLUME, "emptyDir": {"sizeLimit": APPS_ENGINE_SIZE}}
        monolith_volumes.append(monolith_only([volume]))
        monolith_mounts.append(monolith_only([{"name": APPS_ENGINE_VOLUME, "mountPath": apps_engine_dir}]))
    return {
        "extraVolumes": "\n".join(
            [
                *block_yaml(volumes),
                services_only([{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]),
                *monolith_volumes,
            ]
        ),
        "extraVolumeMounts": "\n".join(
            [*block_yaml(mounts), services_only([{"name": "tmp", "mountPath": "/tmp"}]), *monolith_mounts]
        ),
    }


CHART_MONOLITH_IMAGE = (
    '{{ include "rocketchat.image" (dict "repository" .Values.image.repository "tag" .Values.image.tag '
    '"appVersion" .Chart.AppVersion "global" .Values.global) | quote }}'
)
"""The chart's monolith image, in the chart's own words (templates/chat-deployment.yaml), for a container of ours."""
CHART_MONOLITH_PULL_POLICY = "{{ .Values.image.pullPolicy | quote }}"
_IMAGE_MARK = "image-of-the-chart-monolith"
_PULL_POLICY_MARK = "pull-policy-of-the-chart-monolith"


def apps_engine_init_values(version: str) -> dict[str, str]:
    """The chart's `extraInitContainers` (its monolith alone takes them): the container that fills the Apps-Engine's
    writable directory from the monolith's own image, where the version needs one. Rendered with `tpl`, so the image
    is the chart's expression for its monolith's, whatever mirror or repository the values give it."""
    if not apps_engine_writable_dir(version):
        return {}
    container = _plain(apps_engine_seed_container(_IMAGE_MARK, image_pull_policy=_PULL_POLICY_MARK))
    text = "\n".join(block_yaml([container]))
    text = text.replace(json.dumps(_IMAGE_MARK), CHART_MONOLITH_IMAGE)
    return {"extraInitContainers": text.replace(json.dumps(_PULL_POLICY_MARK), CHART_MONOLITH_PULL_POLICY)}


def monolith_probe_values(version: str) -> dict[str, Any]:
    """The monolith's probe paths by version (components/version_table.py). The chart probes liveness and readiness
    on configurable paths and has no startup probe; its delays and thresholds stay the chart's."""
    paths = monolith_probes(version)
    return {"livenessProbe": {"path": paths.liveness}, "readinessProbe": {"path": paths.readiness}}


def _resources(plan: WorkloadPlan) -> dict[str, Any]:
    return {"requests": dict(plan.requests), "limits": dict(plan.limits)}


def _camel(key: str) -> str:
    first, *rest = key.split("_")
    return first + "".join(word.title() for word in rest)


def chart_pod_name(release: str, workload: Workload) -> str:
    """The `app.kubernetes.io/name` label the chart gives a workload's pods."""
    return "rocketchat" if workload.is_monolith else f"{release}-{workload.name}"


def chart_service_name(release: str, workload: Workload) -> str:
    """The chart's Service in front of a workload: `<release>-rocketchat` (monolith), `<release>-ddp-streamer`."""
    return f"{release}-{workload.name}"


def placement_values(placement: PlacementArgs | None) -> dict[str, Any]:
    """`tolerations` / `nodeSelector`, only the ones the stack sets (empty ones would hide the chart's fallbacks)."""
    placement = placement or {}
    values: dict[str, Any] = {}
    if placement.get("tolerations"):
        values["tolerations"] = [{_camel(k): v for k, v in t.items()} for t in placement["tolerations"]]
    if placement.get("node_selector"):
        values["nodeSelector"] = dict(placement["node_selector"])
    return values


SPREAD_KEYS = (("kubernetes.io/hostname", 100), ("topology.kubernetes.io/zone", 50))
"""Where the chart's replicas should not share a place, and how much each matters: nodes first, then zones (where
nodes carry zone labels). Preferences, never requirements: a small cluster still schedules every pod."""


def spread_affinity(pod_labels: dict[str, str]) -> dict[str, Any]:
    """The chart's pods spread as raw mode's are (components/k8s.py `topology_spread`), in the one form the chart
    takes for every workload (`affinity`): preferred pod anti-affinity over nodes and zones."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": weight,
                    "podAffinityTerm": {"topologyKey": key, "labelSelector": {"matchLabels": dict(pod_labels)}},
                }
                for key, weight in SPREAD_KEYS
            ]
        }
    }


def image_registry_values(images: ImagesArgs | None) -> dict[str, Any]:
    """`global.imageRegistry` (the chart puts it before every image's path, and so does its bundled MongoDB) and
    `imagePullSecrets`, where the stack has them."""
    values: dict[str, Any] = {}
    if (images or {}).get("registry"):
        values["global"] = {"imageRegistry": images["registry"].rstrip("/")}  # type: ignore[index]
    if secrets := pull_secrets(images):
        values["imagePullSecrets"] = secrets
    return values


def _repository(key: str, images: ImagesArgs | None) -> dict[str, str]:
    """With a mirror, a workload's repository is its path alone (the chart prefixes `global.imageRegistry`)."""
    if not (images or {}).get("registry"):
        return {}
    return {"repository": parse(f"{WORKLOADS_BY_KEY[key].image}:tag").repository}


def chart_pod_labels(release: str, plan: WorkloadPlan) -> dict[str, str]:
    """The labels the chart gives a workload's pods (its Deployment's selector)."""
    name = "rocketchat" if plan.workload.is_monolith else f"{release}-{plan.workload.name}"
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}


def build_values(
    *,
    version: str,
    root_url: str,
    workloads: list[WorkloadPlan],
    instance: str,
    mongo_secret: SecretKeyArgs,
    transporter_secret: SecretKeyArgs | None,
    license_secret: SecretKeyArgs | None,
    bundled_mongodb: BundledMongoArgs | None = None,
    bundled_mongodb_auth_secret: str | None = None,
    bundled_nats_replicas: int = 1,
    placement: PlacementArgs | None = None,
    pod_monitor: bool = False,
    service_annotations: dict[str, str] | None = None,
    release_name: str = "rocketchat",
    images: ImagesArgs | None = None,
    configuration: WorkloadConfigArgs | None = None,
    proxy_hops: int | None = None,
) -> dict[str, Any]:
    """The chart values for this stack. Pure: Secret names in, a plain dict out, with no credential anywhere in it.

    - `workloads`: the monolith first, then the services the chart is to run (none: the monolith alone).
    - `mongo_secret`: a Secret with key `mongo-uri` (the chart's `existingMongodbSecret`; always set, or the
      chart would build the URL, password included, from values).
    - `transporter_secret`: the Secret key holding the full TRANSPORTER URL of our NatsCluster; None uses the
      chart's bundled NATS at `bundled_nats_replicas`.
    - `license_secret`: the licence, handed to the monolith through `extraEnv` (the chart's `license` value would
      put it in the Deployment as a literal).
    - `bundled_mongodb`, `bundled_mongodb_auth_secret`: the chart's own MongoDB, its passwords read from that Secret.
    - `images`: a mirror for every image (the chart's `global.imageRegistry`, which it and its bundled MongoDB put
      before each image's path) and `imagePullSecrets`.
    - `configuration`: Rocket.Chat's own configuration (RocketChatWorkspace): the monolith's settings through
      `extraEnv`, the CA through `extraVolumes` (every Deployment), the uploads claim through `persistence`.
    - `release_name`: the Helm release, whose name the chart puts in every pod's labels (the spread selects on it).
    - `service_annotations`: the chart's `service.annotations`, on its monolith and ddp-streamer Services alike.
    Each Secret's digest, where given, goes into the pod annotations of the workloads that read it, so that a new
    credential rolls them (the chart's `podAnnotations` and `microservices.<service>.annotations`).
    """
    assert mongo_secret["key"] == MONGO_SECRET_KEY, f"the chart reads key {MONGO_SECRET_KEY} of existingMongodbSecret"
    placed = placement_values(placement)
    # What the chart's pods read from Secrets: the services MONGO_URL and TRANSPORTER, the monolith the licence too.
    service_reads = {"MONGO_URL": mongo_secret, "TRANSPORTER": transporter_secret}
    monolith_reads = service_reads | {"ROCKETCHAT_LICENSE": license_secret}
    monolith, *services = workloads
    assert monolith.workload.is_monolith, "the monolith comes first"

    values: dict[str, Any] = {
        "image": {"tag": version, **_repository(MONOLITH.key, images)},
        **image_registry_values(images),
        # No `host`: the chart would set ROOT_URL to https://<host> even without TLS; ROOT_URL comes from extraEnv.
        "replicaCount": monolith.replicas,
        "resources": _resources(monolith),
        # Every chart pod carries the stack's instance label, which its NetworkPolicies select on.
        "podLabels": k8s.rocketchat_pod_labels(instance),
        # Monolith pod and container; the service pods' pod-level context is hard-coded `{}` by the chart, so
        # each service gets the full restricted profile at container level (`microservices.<svc>.securityContext`).
        "securityContext": pod_security_values(),
        "containerSecurityContext": container_security_values(),
        **(
            {"podAnnotations": annotations}
            if (annotations := monolith_annotations(monolith_reads, configuration))
            else {}
        ),
        **service_scratch_values((configuration or {}).get("trusted_ca_config_map"), apps_engine_writable_dir(version)),
        **apps_engine_init_values(version),
        **monolith_probe_values(version),
        **uploads_values(configuration),
        **({"service": {"annotations": dict(service_annotations)}} if service_annotations else {}),
        **placed,
        **(
            {"affinity": spread_affinity(chart_pod_labels(release_name, monolith))} if monolith.max_replicas > 1 else {}
        ),
        # The chart's PDB covers the monolith only (and only above one replica); RocketChatRelease adds the rest.
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        # Routing belongs to RocketChatIngress; the chart's Ingress stays off.
        "ingress": {"enabled": False},
        "prometheusScraping": {
            "enabled": True,
            "port": MONOLITH_PROMETHEUS_PORT,
            "msPort": MOLECULER_METRICS_PORT,
        },
        "podMonitor": {"enabled": pod_monitor},
        # Always explicit: values.yaml defaults it to true while the chart's README says false.
        "microservices": {
            "enabled": bool(services),
            # Explicit either way: the chart fails when stream-hub is on from 8.0, or off up to 7.7.0.
            "streamHub": {"enabled": any(plan.workload is STREAM_HUB for plan in services)},
        },
        "existingMongodbSecret": mongo_secret["name"],
    }
    for plan in services:
        service_values: dict[str, Any] = {
            "resources": _resources(plan),
            "securityContext": container_security_values(),
            **placed,
        }
        if annotations := rollout_annotations(service_reads) | dict((configuration or {}).get("annotations") or {}):
            service_values["annotations"] = annotations
        if repository := _repository(plan.workload.key, images):
            service_values["image"] = repository
        if plan.workload.scaling != "singleton":  # the chart fixes stream-hub at one replica
            service_values["replicas"] = plan.replicas
        if plan.max_replicas > 1:
            service_values["affinity"] = spread_affinity(chart_pod_labels(release_name, plan))
        values["microservices"].setdefault(plan.workload.key, {}).update(service_values)

    if bundled_mongodb_auth_secret is not None:
        values["mongodb"] = bundled_mongodb_values(bundled_mongodb_auth_secret, bundled_mongodb or {}, placed)
    else:
        values["mongodb"] = {"enabled": False}

    if transporter_secret is not None:
        # `enabled: false` is required: with the key absent the chart deploys its NATS as well (the _validations
        # check that would catch it never runs).
        values["nats"] = {
            "enabled": False,
            "existingSecret": {"name": transporter_secret["name"], "key": transporter_secret["key"]},
        }
    else:
        values["nats"] = bundled_nats_values(bundled_nats_replicas, placed)

    extra_env: list[dict[str, Any]] = [{"name": "ROOT_URL", "value": root_url}]
    if license_secret is not None:
        # The chart's `license` value lands as a literal env var in the Deployment; read it from our Secret instead.
        extra_env.append(
            {
                "name": "ROCKETCHAT_LICENSE",
                "valueFrom": {"secretKeyRef": {"name": license_secret["name"], "key": license_secret["key"]}},
            }
        )
    if proxy_hops is not None:
        extra_env.append({"name": FORWARDED_COUNT_ENV, "value": str(proxy_hops)})
    configured = configuration or {}
    extra_env += env_values([*(configured.get("env") or []), *(configured.get("monolith_env") or [])])
    values["extraEnv"] = extra_env
    return values


def monolith_annotations(
    reads: dict[str, SecretKeyArgs | None], configuration: WorkloadConfigArgs | None
) -> dict[str, Any]:
    """What rolls the monolith's pods: the digests of the credentials and of the configuration it reads."""
    configured = configuration or {}
    return (
        rollout_annotations(reads)
        | dict(configured.get("annotations") or {})
        | dict(configured.get("monolith_annotations") or {})
    )


def uploads_values(configuration: WorkloadConfigArgs | None) -> dict[str, Any]:
    """The chart's `persistence` on the workspace's uploads claim (mounted at /app/uploads), where it has one."""
    claim = (configuration or {}).get("uploads_claim")
    return {"persistence": {"enabled": True, "existingClaim": claim}} if claim else {}


def bundled_mongodb_values(
    auth_secret_name: str, mongodb: BundledMongoArgs, placement: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The chart's bundled (Bitnami) MongoDB with its passwords read from a Secret rather than from values."""
    persistence: dict[str, Any] = {"enabled": True, "size": mongodb.get("storage", DEFAULT_STORAGE)}
    if mongodb.get("storage_class_name"):
        persistence["storageClass"] = mongodb["storage_class_name"]
    requests, limits = requests_and_limits(MONGODB_RESOURCES, mongodb.get("resources"))
    return {
        "enabled": True,
        "architecture": "replicaset",
        "replicaSetName": BUNDLED_MONGODB_REPLICA_SET,
        "replicaCount": whole(mongodb.get("replicas", 1)),
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


def bundled_nats_values(replicas: int, placement: dict[str, Any]) -> dict[str, Any]:
    """The chart's bundled NATS (subchart nats 0.15.x): clustered, every container on the restricted profile."""
    container = container_security_values(NATS_UID)
    return {
        "enabled": True,
        "cluster": {"enabled": replicas > 1, "replicas": replicas},
        "securityContext": pod_security_values(NATS_UID),
        "nats": {"securityContext": container},
        "reloader": {"securityContext": container},
        "exporter": {"securityContext": container},
        "bootconfig": {"securityContext": container},
        # A debugging toolbox Deployment, running as root: not part of a production install.
        "natsbox": {"enabled": False},
        **placement,
    }


def chart_source(repo: str, version: str) -> dict[str, Any]:
    """`chart`, `version` and `repository_opts` of the Release: an HTTP(S) chart repository, or an OCI one."""
    if repo.startswith("oci://"):
        return {"chart": f"{repo.rstrip('/')}/{CHART_NAME}", "version": version}
    return {"chart": CHART_NAME, "version": version, "repository_opts": helm.RepositoryOptsArgs(repo=repo)}
