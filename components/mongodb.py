"""MongoReplicaSet: an in-cluster MongoDB replica set `rs0` for development stacks.

Rocket.Chat needs a replica set (it follows change streams), so even one member is started with `--replSet` and
initiates itself. Production points `rocketchat:mongoUrl` at a managed cluster instead.
"""

from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components import k8s
from components.args import PlacementArgs, ResourcesArgs, requests_and_limits, whole
from components.catalog import DEFAULT_INSTANCE, MONGODB_IMAGE, MONGODB_RESOURCES, MONGODB_UID

MONGODB_PORT = 27017
REPLICA_SET = "rs0"
DATABASE = "rocketchat"
DEFAULT_STORAGE = "8Gi"


def member_hosts(name: str, namespace: str, replicas: int) -> list[str]:
    return [f"{name}-{i}.{name}-headless.{namespace}.svc.cluster.local:{MONGODB_PORT}" for i in range(replicas)]


def connection_url(name: str, namespace: str, replicas: int) -> str:
    return f"mongodb://{','.join(member_hosts(name, namespace, replicas))}/{DATABASE}?replicaSet={REPLICA_SET}"


def initiate_script(name: str, namespace: str, replicas: int) -> str:
    """mongosh script run by the first member's startup probe: initiate `rs0` once, then report success."""
    members = ", ".join(f"{{_id: {i}, host: '{h}'}}" for i, h in enumerate(member_hosts(name, namespace, replicas)))
    return (
        "try { rs.status().ok } catch (e) { if (e.codeName !== 'NotYetInitialized') throw e; "
        f"rs.initiate({{_id: '{REPLICA_SET}', members: [{members}]}}).ok }}"
    )


class MongoReplicaSetArgs(TypedDict):
    namespace: str
    """A plain name: the members' host names, which the replica set's config and URL list, are built from it."""
    replicas: NotRequired[int]
    """Members: 1, 3 or 5 (default 1)."""
    storage: NotRequired[str]
    """Each member's volume (default 8Gi)."""
    storage_class_name: NotRequired[str]
    instance: NotRequired[str]
    resources: NotRequired[ResourcesArgs]
    placement: NotRequired[PlacementArgs]


class MongoReplicaSet(pulumi.ComponentResource):
    """StatefulSet + headless Service with a PersistentVolumeClaim per member.

    No authentication: this is the development database, reachable only from the stack's Rocket.Chat pods
    (see the NetworkPolicies in RocketChatStack). Outputs `url` (the replica-set connection string, as a secret).
    """

    url: pulumi.Output[str]
    """The replica set's connection string (a secret)."""
    selector: pulumi.Output[dict[str, str]]
    """The labels of the members' pods (for NetworkPolicies)."""

    def __init__(self, name: str, args: MongoReplicaSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:MongoReplicaSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace, replicas = args["namespace"], whole(args.get("replicas", 1))
        selector = k8s.labels("mongodb", "database", args.get("instance", DEFAULT_INSTANCE))
        obj_labels = k8s.object_labels(selector)
        headless = f"{name}-headless"
        requests, limits = requests_and_limits(MONGODB_RESOURCES, args.get("resources"))

        service = core.Service(
            headless,
            metadata=k8s.metadata(headless, namespace, obj_labels),
            spec=core.ServiceSpecArgs(
                cluster_ip="None",
                publish_not_ready_addresses=True,
                selector=selector,
                ports=[core.ServicePortArgs(name="mongodb", port=MONGODB_PORT, target_port="mongodb")],
            ),
            opts=child,
        )

        def mongosh(script: str) -> core.ExecActionArgs:
            return core.ExecActionArgs(command=["mongosh", "--quiet", "--norc", "--eval", script])

        ping = mongosh("quit(db.adminCommand({ping: 1}).ok ? 0 : 1)")
        # Only member 0 initiates; the others just wait to be added. The probe is idempotent.
        startup = mongosh(
            "if (process.env.HOSTNAME.endsWith('-0')) { "
            + initiate_script(name, namespace, replicas)
            + " } else { db.adminCommand({ping: 1}).ok }"
        )
        container = core.ContainerArgs(
            name="mongodb",
            image=MONGODB_IMAGE,
            image_pull_policy=k8s.IMAGE_PULL_POLICY,
            args=["--replSet", REPLICA_SET, "--bind_ip_all", "--dbpath", "/data/db"],
            env=[core.EnvVarArgs(name="HOME", value="/tmp")],
            ports=[core.ContainerPortArgs(name="mongodb", container_port=MONGODB_PORT)],
            startup_probe=core.ProbeArgs(exec_=startup, period_seconds=5, failure_threshold=60, timeout_seconds=10),
            readiness_probe=core.ProbeArgs(exec_=ping, period_seconds=10, timeout_seconds=5),
            liveness_probe=core.ProbeArgs(exec_=ping, period_seconds=20, timeout_seconds=10, failure_threshold=6),
            resources=k8s.resources(requests, limits),
            security_context=k8s.container_security(MONGODB_UID),
            volume_mounts=[
                core.VolumeMountArgs(name="data", mount_path="/data/db"),
                core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
        )
        apps.StatefulSet(
            name,
            metadata=k8s.metadata(name, namespace, obj_labels),
            spec=apps.StatefulSetSpecArgs(
                service_name=headless,
                replicas=replicas,
                pod_management_policy="Parallel",
                selector=meta.LabelSelectorArgs(match_labels=selector),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=obj_labels),
                    spec=k8s.hardened_pod_spec(
                        uid=MONGODB_UID,
                        container=container,
                        volumes=[
                            core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="256Mi"))
                        ],
                        selector=selector,
                        replicas=replicas,
                        placement=args.get("placement"),
                    ),
                ),
                volume_claim_templates=[
                    core.PersistentVolumeClaimArgs(
                        metadata=meta.ObjectMetaArgs(name="data", labels=obj_labels),
                        spec=core.PersistentVolumeClaimSpecArgs(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=args.get("storage_class_name"),
                            resources=core.VolumeResourceRequirementsArgs(
                                requests={"storage": args.get("storage", DEFAULT_STORAGE)}
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        k8s.disruption_budget(name, namespace, selector, obj_labels, replicas, child)
        self.url = pulumi.Output.secret(connection_url(name, namespace, replicas))
        self.selector = pulumi.Output.from_input(selector)
        self.register_outputs({"url": self.url, "selector": self.selector})
