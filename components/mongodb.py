"""MongoReplicaSet: an in-cluster MongoDB replica set `rs0` for development stacks.

Rocket.Chat needs a replica set (it follows change streams), so even one member is started with `--replSet` and
initiates itself; every member's readiness probe then keeps the set's members those of the StatefulSet as `replicas`
changes. Production points `rocketchat:mongoUrl` at a managed cluster instead.
"""

import json
from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta

from components import images, k8s
from components.args import PlacementArgs, ResourcesArgs, requests_and_limits, whole
from components.catalog import DEFAULT_INSTANCE, MONGODB_IMAGE, MONGODB_RESOURCES, MONGODB_UID
from components.images import ImagesArgs

MONGODB_PORT = 27017
REPLICA_SET = "rs0"
DATABASE = "rocketchat"
DEFAULT_STORAGE = "8Gi"

# Errors the next run of the membership script outlives: a member not answering yet (NodeNotFound is the quorum
# check's), a reconfig still being committed, a primary that stepped down between two commands, an initiate that
# another member's config overtook.
WAITABLE_ERRORS = (
    "NodeNotFound",
    "HostUnreachable",
    "NetworkTimeout",
    "AlreadyInitialized",
    "ConfigurationInProgress",
    "CurrentConfigNotCommittedYet",
    "NotWritablePrimary",
    "PrimarySteppedDown",
    "InterruptedDueToReplStateChange",
)


def member_hosts(name: str, namespace: str, replicas: int) -> list[str]:
    return [f"{name}-{i}.{name}-headless.{namespace}.svc.cluster.local:{MONGODB_PORT}" for i in range(replicas)]


def connection_url(name: str, namespace: str, replicas: int) -> str:
    return f"mongodb://{','.join(member_hosts(name, namespace, replicas))}/{DATABASE}?replicaSet={REPLICA_SET}"


# The membership script's functions; membership_script puts its constants before them.
_MEMBERSHIP_FUNCTIONS = """\
function readStatus() {
  try { return {state: 'member', status: rs.status()}; } catch (e) {
    if (e.codeName === 'NotYetInitialized') return {state: 'uninitiated'};
    // This member is outside the config: not added yet, or removed.
    if (e.codeName === 'InvalidReplicaSetConfig') return {state: 'outside'};
    throw e;
  }
}
function initiate() {
  if (process.env.HOSTNAME !== firstMember) return 'not initiated yet: ' + firstMember + ' initiates';
  rs.initiate({_id: replicaSet, members: wanted.map((host, i) => ({_id: i, host: host}))});
  return 'initiated with ' + wanted.join(', ');
}
function freeId(members) {
  const taken = members.map(m => Number(m._id));
  let id = 0;
  while (taken.includes(id)) id++;
  return id;
}
function stepAsPrimary(me) {
  const members = rs.conf().members;
  const hosts = members.map(m => m.host);
  const missing = wanted.filter(h => !hosts.includes(h));
  if (missing.length > 0) {
    rs.add({host: missing[0], _id: freeId(members)});
    return 'added ' + missing[0];
  }
  // Never itself: a primary cannot leave the config, and its pod is going away anyway.
  const unwanted = hosts.filter(h => !wanted.includes(h) && h !== me);
  if (unwanted.length > 0) {
    rs.remove(unwanted[0]);
    return 'removed ' + unwanted[0];
  }
  return 'members as wanted';
}
function mustForce(status, config) {
  const members = status.members;
  // health: 1 up, 0 down, -1 not heard from yet (as after a restart): only 0 is known to be gone.
  const down = m => Number(m.health) === 0;
  // A primary reconciles safely; a forced reconfig beside it would split the set.
  if (members.some(m => Number(m.state) === 1)) return false;
  const self = members.find(m => m.self);
  if (!self || !wanted.includes(self.name)) return false;
  // Only a shrink whose removed pods are gone: a live unwanted member may still hold the newest writes.
  const unwanted = members.filter(m => !wanted.includes(m.name));
  if (unwanted.length === 0 || !unwanted.every(down)) return false;
  // Voters that may be up can elect a primary by themselves, which then removes the others one by one.
  const mayBeUp = members.filter(m => !down(m)).map(m => m.name);
  const voters = config.members.filter(m => Number(m.votes ?? 1) > 0);
  return voters.filter(m => mayBeUp.includes(m.host)).length * 2 <= voters.length;
}
function forceToWanted(config) {
  config.members = config.members.filter(m => wanted.includes(m.host));
  rs.reconfig(config, {force: true});
  return 'forced a reconfig to ' + config.members.map(m => m.host).join(', ');
}
function reconcile() {
  const seen = readStatus();
  if (seen.state === 'uninitiated') return initiate();
  if (seen.state === 'outside') return 'not in the config: the primary adds wanted members';
  const hello = db.hello();
  if (hello.isWritablePrimary) return stepAsPrimary(hello.me);
  const config = rs.conf();
  if (mustForce(seen.status, config)) return forceToWanted(config);
  return 'not the primary: the primary reconciles';
}"""


def membership_script(name: str, namespace: str, replicas: int) -> str:
    """mongosh script that moves `rs0`'s members one step towards exactly `member_hosts(...)`, run again and again on
    every member; it exits 0 when this member's mongod answers, 1 otherwise, and prints what it did.

    - Not initiated: member 0 initiates with every wanted host; the others wait for it.
    - The primary adds one missing member per run, else removes one unwanted member (safe reconfigs change one voter
      at a time).
    - No primary, every unwanted member down, too few voters left to elect one, and this member wanted: a forced
      reconfig to the wanted members (a shrink whose removed pods are gone took the majority with them).
    - Errors a later run outlives (WAITABLE_ERRORS) are reported; any other fails the run.

    It runs as every member's readiness probe, every 10 s for the pod's whole life: a startup probe stops at its first
    success and would never see a later `replicas` change, and a failed liveness probe would restart mongod.
    """
    return "\n".join(
        [
            f"const wanted = {json.dumps(member_hosts(name, namespace, replicas))};",
            f"const firstMember = {json.dumps(f'{name}-0')};",
            f"const replicaSet = {json.dumps(REPLICA_SET)};",
            f"const waitable = {json.dumps(list(WAITABLE_ERRORS))};",
            _MEMBERSHIP_FUNCTIONS,
            "let outcome;",
            "try { outcome = reconcile(); } catch (e) {",
            "  if (!waitable.includes(e.codeName)) throw e;",
            "  outcome = 'waiting: ' + e.codeName;",
            "}",
            "print(replicaSet + ' membership: ' + outcome);",
            "quit(db.adminCommand({ping: 1}).ok ? 0 : 1);",
        ]
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
    object_name: NotRequired[str]
    """The Kubernetes name of its StatefulSet (and the prefix of its headless Service and PDB); default: the resource
    name."""
    images: NotRequired[ImagesArgs]
    """A registry mirror, pull secrets and a digest (key `mongodb`) for its image."""


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
        # Pulumi's resource names stay the component's (the URNs of existing stacks); Kubernetes names may differ.
        object_name = args.get("object_name", name)
        selector = k8s.labels("mongodb", "database", args.get("instance", DEFAULT_INSTANCE))
        obj_labels = k8s.object_labels(selector)
        headless = f"{object_name}-headless"
        requests, limits = requests_and_limits(MONGODB_RESOURCES, args.get("resources"))

        service = core.Service(
            f"{name}-headless",
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
        # The membership script is every member's readiness probe: the only probe that runs for the pod's whole life
        # (the startup probe stops at its first success, so a live set would never see a later `replicas` change) and
        # whose failure restarts nothing (a failed reconfig must not kill mongod, as a liveness probe would). Whichever
        # member is primary at the time does the work. The wanted members are in the command, so changing `replicas`
        # rolls the pods: acceptable, the members restart one at a time. The startup probe only waits for mongod.
        membership = mongosh(membership_script(object_name, namespace, replicas))
        container = core.ContainerArgs(
            name="mongodb",
            image=str(images.resolve(MONGODB_IMAGE, args.get("images"), "mongodb")),
            image_pull_policy=k8s.IMAGE_PULL_POLICY,
            args=["--replSet", REPLICA_SET, "--bind_ip_all", "--dbpath", "/data/db"],
            env=[core.EnvVarArgs(name="HOME", value="/tmp")],
            ports=[core.ContainerPortArgs(name="mongodb", container_port=MONGODB_PORT)],
            startup_probe=core.ProbeArgs(exec_=ping, period_seconds=5, failure_threshold=60, timeout_seconds=10),
            # A reconfig waits for the members to take the new config: more time than a ping.
            readiness_probe=core.ProbeArgs(exec_=membership, period_seconds=10, timeout_seconds=10),
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
            metadata=k8s.metadata(object_name, namespace, obj_labels),
            spec=apps.StatefulSetSpecArgs(
                service_name=headless,
                replicas=replicas,
                pod_management_policy="Parallel",
                # The default, said explicitly: a replaced or scaled-down StatefulSet never takes the data with it.
                persistent_volume_claim_retention_policy=apps.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Retain", when_scaled="Retain"
                ),
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
                        image_pull_secrets=images.pull_secrets(args.get("images")),
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
        k8s.disruption_budget(name, namespace, selector, obj_labels, replicas, child, object_name=object_name)
        self.url = pulumi.Output.secret(connection_url(object_name, namespace, replicas))
        self.selector = pulumi.Output.from_input(selector)
        self.register_outputs({"url": self.url, "selector": self.selector})
