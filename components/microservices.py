"""MicroserviceSet: the Rocket.Chat monolith and its microservices as plain Deployments, Services and PDBs."""

from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.autoscaling import v2 as autoscaling
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components import images, k8s
from components.args import PlacementArgs, SecretKeyArgs, WorkloadArgs, requests_and_limits, whole
from components.catalog import (
    BROKER_ENV,
    DDP_STREAMER,
    DEFAULT_INSTANCE,
    FORWARDED_COUNT_ENV,
    HEALTH_PATH,
    ROCKETCHAT_UID,
    WORKLOADS_BY_KEY,
    Workload,
)
from components.credentials import rollout_annotations, secret_env
from components.images import ImagesArgs
from components.planning import Autoscaling, WorkloadPlan, autoscaling_for, workload_plan
from components.version_table import (
    APPS_ENGINE_SIZE,
    APPS_ENGINE_VOLUME,
    apps_engine_seed_container,
    apps_engine_writable_dir,
    monolith_probes,
)
from components.workspace import CA_MOUNT_DIR, UPLOADS_PATH, WorkloadConfigArgs, env_vars


class MicroserviceSetArgs(TypedDict):
    namespace: pulumi.Input[str]
    version: str
    """The Rocket.Chat version: the image tag of every workload."""
    root_url: pulumi.Input[str]
    """What users open (`ROOT_URL` of the monolith)."""
    workloads: list[WorkloadArgs]
    """The monolith (key `monolith`) and the services to run (catalog keys), with their pod counts."""
    mongo_url: SecretKeyArgs
    """The Secret key holding the MongoDB replica-set URL."""
    transporter: SecretKeyArgs
    """The Secret key holding the NATS address with credentials (`monolith+nats://...` for a monolith alone)."""
    license: NotRequired[SecretKeyArgs]
    """The Secret key holding the Enterprise licence (the monolith reads it)."""
    instance: NotRequired[str]
    placement: NotRequired[PlacementArgs]
    images: NotRequired[ImagesArgs]
    """A registry mirror, pull secrets and digests for the Rocket.Chat images (components/images.py)."""
    proxy_hops: NotRequired[int]
    """Proxies in front of the pods (the ingress controller or gateway, and any load balancer before it): how far
    back in X-Forwarded-For the client's address is, for the workloads that read it (HTTP_FORWARDED_COUNT)."""
    configuration: NotRequired[WorkloadConfigArgs]
    """Rocket.Chat's own configuration (RocketChatWorkspace): settings, secrets, the CA, the uploads volume."""
    streaming_service_annotations: NotRequired[dict[str, str]]
    """Annotations of the Service websockets go to (ddp-streamer's; the monolith's when it runs alone), for ingress
    controllers that read their affinity there (components/controllers.py)."""


def plans_of(workloads: list[WorkloadArgs]) -> list[WorkloadPlan]:
    """The catalog's workloads for these keys, with their resources laid over the catalog's defaults."""
    plans = []
    for given in workloads:
        workload = WORKLOADS_BY_KEY[given["key"]]
        requests, limits = requests_and_limits(workload.resources, given.get("resources"))
        replicas = whole(given["replicas"])
        scaling = autoscaling_for(workload, given.get("autoscaling"), replicas)
        plans.append(workload_plan(workload, replicas, requests, limits, scaling))
    return plans


def workload_name(instance: str, workload: Workload) -> str:
    """`<instance>-<workload>`: the same names the official chart gives its objects, so both modes line up."""
    return f"{instance}-{workload.name}"


def rocketchat_selector(instance: str, workload: Workload | None = None) -> dict[str, str]:
    """Labels of this stack's Rocket.Chat pods: all of them, or one workload's."""
    selector = {"app.kubernetes.io/name": "rocketchat", "app.kubernetes.io/instance": instance}
    return selector | ({"app.kubernetes.io/component": workload.name} if workload else {})


def secrets_read(args: MicroserviceSetArgs, workload: Workload) -> dict[str, SecretKeyArgs]:
    """Env vars a workload's container reads from Secrets: database and bus for all, the licence for the monolith."""
    reads = {"MONGO_URL": args["mongo_url"], "TRANSPORTER": args["transporter"]}
    if workload.is_monolith and args.get("license"):
        reads["ROCKETCHAT_LICENSE"] = args["license"]
    return reads


def container_env(args: MicroserviceSetArgs, workload: Workload) -> list[core.EnvVarArgs]:
    """Every Rocket.Chat process: database and bus from Secrets, shared broker settings; the monolith a bit more."""
    secrets = secrets_read(args, workload)
    env = [secret_env(name, secrets.pop(name)) for name in ("MONGO_URL", "TRANSPORTER")]
    env += [core.EnvVarArgs(name=k, value=v) for k, v in (BROKER_ENV | workload.extra_env).items()]
    if workload.is_monolith:
        env += [
            core.EnvVarArgs(name="ROOT_URL", value=args["root_url"]),
            core.EnvVarArgs(
                name="INSTANCE_IP",
                value_from=core.EnvVarSourceArgs(field_ref=core.ObjectFieldSelectorArgs(field_path="status.podIP")),
            ),
        ]
    env += [secret_env(name, source) for name, source in secrets.items()]  # the licence, where given
    if workload.reads_client_address and args.get("proxy_hops") is not None:
        env.append(core.EnvVarArgs(name=FORWARDED_COUNT_ENV, value=str(args["proxy_hops"])))
    configuration = args.get("configuration") or {}
    env += env_vars(configuration.get("env") or [])
    if workload.is_monolith:
        env += env_vars(configuration.get("monolith_env") or [])
    return env


def pod_annotations(args: MicroserviceSetArgs, workload: Workload) -> dict[str, pulumi.Input[str]]:
    """What rolls a workload's pods: the digests of the credentials and configuration it reads."""
    configuration = args.get("configuration") or {}
    annotations = rollout_annotations(secrets_read(args, workload)) | dict(configuration.get("annotations") or {})
    if workload.is_monolith:
        annotations |= dict(configuration.get("monolith_annotations") or {})
    return annotations


def workload_volumes(
    args: MicroserviceSetArgs, workload: Workload
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """The writable paths (the monolith's uploads on the workspace's claim where it has one; its /tmp sized for the
    uploads it stages), and the organisation's CA, read-only, where given."""
    configuration = args.get("configuration") or {}
    claim = configuration.get("uploads_claim") if workload.is_monolith else None
    scratch = tuple(p for p in workload.writable_paths if not (claim and p == UPLOADS_PATH))
    sizes = {"/tmp": configuration["tmp_size"]} if workload.is_monolith and configuration.get("tmp_size") else {}
    volumes, mounts = k8s.scratch_volumes(scratch, sizes)
    if claim:
        volumes.append(
            core.VolumeArgs(
                name="uploads", persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim)
            )
        )
        mounts.append(core.VolumeMountArgs(name="uploads", mount_path=UPLOADS_PATH))
    if configuration.get("trusted_ca_config_map"):
        volumes.append(
            core.VolumeArgs(
                name="trusted-ca",
                config_map=core.ConfigMapVolumeSourceArgs(name=configuration["trusted_ca_config_map"]),
            )
        )
        mounts.append(core.VolumeMountArgs(name="trusted-ca", mount_path=CA_MOUNT_DIR, read_only=True))
    if workload.is_monolith and (runtime_dir := apps_engine_writable_dir(args["version"])):
        # Filled from the image by the init container (apps_engine_init_containers) before the monolith starts.
        volumes.append(
            core.VolumeArgs(
                name=APPS_ENGINE_VOLUME, empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=APPS_ENGINE_SIZE)
            )
        )
        mounts.append(core.VolumeMountArgs(name=APPS_ENGINE_VOLUME, mount_path=runtime_dir))
    return volumes, mounts


def apps_engine_init_containers(args: MicroserviceSetArgs, workload: Workload, image: str) -> list[core.ContainerArgs]:
    """The monolith of a version whose Apps-Engine writes into its own package directory (docs/versions.md): the
    container that copies that directory from the image into the writable volume mounted over it."""
    if workload.is_monolith and apps_engine_writable_dir(args["version"]):
        return [apps_engine_seed_container(image)]
    return []


def probes(workload: Workload, version: str) -> dict[str, core.ProbeArgs]:
    """Startup, readiness and liveness: `/health` for the services; the monolith's paths by version
    (components/version_table.py). ddp-streamer answers only once it reaches the monolith over the bus, and the
    monolith migrates the database on start: the startup probe gives both minutes before liveness may restart them."""
    paths = monolith_probes(version) if workload.is_monolith else None
    return {
        "startup_probe": k8s.http_probe(paths.startup if paths else HEALTH_PATH, "http", period=5, failures=120),
        "readiness_probe": k8s.http_probe(paths.readiness if paths else HEALTH_PATH, "http", period=10),
        "liveness_probe": k8s.http_probe(paths.liveness if paths else HEALTH_PATH, "http", period=20, failures=3),
    }


def _strategy(workload: Workload) -> apps.DeploymentStrategyArgs:
    if workload.strategy == "Recreate":
        return apps.DeploymentStrategyArgs(type="Recreate")
    # Surge first, never below the configured replicas: websocket capacity must not dip during a rollout.
    return apps.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=apps.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
    )


AUTOSCALED_BY = "rocketchat.chat/autoscaled-by"
"""Annotation of an autoscaled Deployment: the HorizontalPodAutoscaler that sets its count."""


def autoscaler_spec(
    deployment_name: pulumi.Input[str], scaling: Autoscaling
) -> autoscaling.HorizontalPodAutoscalerSpecArgs:
    """Scale a Deployment between the bounds on its pods' average CPU use (relative to their request)."""
    return autoscaling.HorizontalPodAutoscalerSpecArgs(
        scale_target_ref=autoscaling.CrossVersionObjectReferenceArgs(
            api_version="apps/v1", kind="Deployment", name=deployment_name
        ),
        min_replicas=scaling.min_replicas,
        max_replicas=scaling.max_replicas,
        metrics=[
            autoscaling.MetricSpecArgs(
                type="Resource",
                resource=autoscaling.ResourceMetricSourceArgs(
                    name="cpu",
                    target=autoscaling.MetricTargetArgs(
                        type="Utilization", average_utilization=scaling.target_cpu_percent
                    ),
                ),
            )
        ],
    )


class MicroserviceSet(pulumi.ComponentResource):
    """One Deployment per workload (monolith first), a Service where traffic enters, a PDB where replicated, a
    HorizontalPodAutoscaler where asked."""

    service_names: pulumi.Output[dict[str, str]]
    """Workload key -> its Service's name: the monolith's and ddp-streamer's (where the Ingress sends traffic)."""
    deployment_names: pulumi.Output[dict[str, str]]
    """Workload key -> its Deployment's name."""

    def __init__(self, name: str, args: MicroserviceSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:MicroserviceSet", name, None, opts)
        services: dict[str, pulumi.Output[str]] = {}
        deployments: dict[str, pulumi.Output[str]] = {}
        for plan in plans_of(args["workloads"]):
            deployment, service = self._workload(plan, args)
            deployments[plan.workload.key] = deployment.metadata.name
            if service is not None:
                services[plan.workload.key] = service.metadata.name
        self.service_names = pulumi.Output.all(**services)  # type: ignore[assignment]
        self.deployment_names = pulumi.Output.all(**deployments)  # type: ignore[assignment]
        self.register_outputs({"service_names": self.service_names, "deployment_names": self.deployment_names})

    def _workload(self, plan: WorkloadPlan, args: MicroserviceSetArgs) -> tuple[apps.Deployment, core.Service | None]:
        workload = plan.workload
        instance, namespace, version = args.get("instance", DEFAULT_INSTANCE), args["namespace"], args["version"]
        name = workload_name(instance, workload)
        selector = rocketchat_selector(instance, workload)
        obj_labels = k8s.object_labels(selector, version)
        child = pulumi.ResourceOptions(parent=self)
        volumes, mounts = workload_volumes(args, workload)
        image = str(images.resolve(workload.image, args.get("images"), workload.key, version))

        container = core.ContainerArgs(
            name=workload.name,
            image=image,
            image_pull_policy=k8s.IMAGE_PULL_POLICY,
            env=container_env(args, workload),
            ports=[core.ContainerPortArgs(name=n, container_port=p) for n, p in workload.container_ports.items()],
            **probes(workload, version),
            resources=k8s.resources(plan.requests, plan.limits),
            security_context=k8s.container_security(ROCKETCHAT_UID),
            volume_mounts=mounts,
        )
        pod_spec = k8s.hardened_pod_spec(
            uid=ROCKETCHAT_UID,
            container=container,
            volumes=volumes,
            selector=selector,
            replicas=plan.max_replicas,
            placement=args.get("placement"),
            image_pull_secrets=images.pull_secrets(args.get("images")),
        )
        if init_containers := apps_engine_init_containers(args, workload, image):
            pod_spec.init_containers = init_containers
        deployment = apps.Deployment(
            name,
            # Who sets the count, for the people reading the object; and a change of hands is a change Pulumi sees,
            # so the `up` that turns autoscaling off sets the count again (its input alone may not have changed).
            metadata=k8s.metadata(name, namespace, obj_labels, {AUTOSCALED_BY: name} if plan.autoscaling else None),
            spec=apps.DeploymentSpecArgs(
                replicas=plan.replicas,
                selector=meta.LabelSelectorArgs(match_labels=selector),
                strategy=_strategy(workload),
                template=core.PodTemplateSpecArgs(
                    # A new credential rolls the pods that read it (see components/credentials.py).
                    metadata=meta.ObjectMetaArgs(
                        labels=obj_labels | k8s.rocketchat_pod_labels(instance),
                        annotations=pod_annotations(args, workload) or None,
                    ),
                    spec=pod_spec,
                ),
            ),
            # An autoscaled Deployment's count is its autoscaler's: `pulumi up` sets it on creation (the minimum)
            # and leaves it alone after, instead of resetting what the autoscaler chose. The provider keeps the live
            # count whenever it updates the Deployment (or sends none where another field manager owns it).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]) if plan.autoscaling else child,
        )
        # maxUnavailable 1 holds at any count, so the budget is sized once for the most pods the workload can run.
        k8s.disruption_budget(name, namespace, selector, obj_labels, plan.max_replicas, child)
        if plan.autoscaling:
            autoscaling.HorizontalPodAutoscaler(
                name,
                metadata=k8s.metadata(name, namespace, obj_labels),
                spec=autoscaler_spec(deployment.metadata.name, plan.autoscaling),
                opts=child,
            )

        if workload.service is None:
            return deployment, None
        affinity = workload.service.client_ip_affinity
        streams = workload.key == DDP_STREAMER.key or (workload.is_monolith and len(args["workloads"]) == 1)
        service = core.Service(
            name,
            metadata=k8s.metadata(
                name, namespace, obj_labels, (args.get("streaming_service_annotations") or None) if streams else None
            ),
            spec=core.ServiceSpecArgs(
                selector=selector,
                ports=[core.ServicePortArgs(name="http", port=workload.service.port, target_port="http")],
                session_affinity="ClientIP" if affinity else None,
                session_affinity_config=core.SessionAffinityConfigArgs(
                    client_ip=core.ClientIPConfigArgs(timeout_seconds=10800)
                )
                if affinity
                else None,
            ),
            opts=child,
        )
        return deployment, service
