"""The rules that span keys (and the stack's last update): what a valid value of each key cannot show alone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from components.catalog import DDP_STREAMER, MICROSERVICES, MONOLITH, STREAM_HUB
from components.planning import USERS_PER_DDP_STREAMER, WorkloadPlan, args_key, ddp_streamer_replicas_for
from components.quantity import parse_quantity
from components.versions import STREAM_HUB_OPTIONAL_FROM, StreamHubRule, Version, stream_hub_rule
from components.workspace import SETTING_ENV_PREFIX
from stack_config.deployed import DEFAULT_RAW_INSTANCE, Deployed
from stack_config.diagnostics import CONFIG_NAMESPACE, SECRET_KEYS, SECRET_MAPS, _broken, _key
from stack_config.rocketchat_settings import setting_problems
from stack_config.schema import AutoscalingConfig, StackConfig

# Namespaces Kubernetes keeps for itself: nothing of a workspace belongs there.
RESERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# The Kubernetes provider setting that updates a Secret in place when its data changes (without it, the provider
# deletes the Secret and creates it again, and Pulumi deletes and recreates every Deployment that reads it).
PROVIDER_PREFIX = "kubernetes:"
SECRET_MUTABLE_KEY = "enableSecretMutable"
# The official chart (checked at 7.0.2) fails to render without stream-hub up to and including this version.
CHART_STREAM_HUB_REQUIRED_UP_TO = Version(7, 7, 0)

EXAMPLE_MONGO_URL = "'mongodb+srv://USER:PASSWORD@cluster.example.net/rocketchat'"
EXAMPLE_LICENSE = '"$(cat rocketchat.license)"'


def set_secret_command(stack: str, key: str, value: str) -> str:
    """The exact command that stores a secret key of this stack, encrypted."""
    return f"pulumi config set --secret --stack {stack} {CONFIG_NAMESPACE}:{key} {value}"


_SECRET_EXAMPLES = {
    "mongoUrl": EXAMPLE_MONGO_URL,
    "license": EXAMPLE_LICENSE,
    "adminPassword": "'...'",
    "smtpPassword": "'...'",
    "secretSettings": "'{...}'",
}
_EMPTY_SECRET = {
    "mongoUrl": "Rocket.Chat would get no database address (and an in-cluster database would be dropped for it)",
    "license": "an empty licence is no licence, and the pods beyond the first of each service would exit",
    "adminPassword": "Rocket.Chat creates no admin without a password",
    "smtpPassword": "the mail server would be given an empty password",
    "secretSettings": "there is no setting in it",
}

_REQUIRED = {
    "mode": "set it to 'raw' (plain Kubernetes resources) or 'helm' (the official chart)",
    "host": "set it to the public DNS name, e.g. chat.example.com",
    "version": "set it to the Rocket.Chat version to run, e.g. 8.6.1",
}


def cross_key_problems(
    stack: str, config: StackConfig, failed: set[tuple[Any, ...]], secret_keys: set[str], raw: Mapping[str, Any]
) -> list[str]:
    problems = [
        f"{_key([name])}: required; {how}"
        for name, how in _REQUIRED.items()
        if not _broken(failed, name) and getattr(config, name) is None
    ]

    for name in SECRET_KEYS:
        if name in raw and not _broken(failed, name) and name not in secret_keys:
            how = (
                f"pulumi config set --secret --stack {stack} --path '{CONFIG_NAMESPACE}:{name}.<setting id>' '...'"
                if name in SECRET_MAPS
                else set_secret_command(stack, name, "...")
            )
            problems.append(f"{_key([name])}: must be stored encrypted; run `{how}` (its value is not shown here)")
        elif name in raw and not _broken(failed, name) and not str(raw[name]).strip():
            problems.append(
                f"{_key([name])}: is {'empty' if not raw[name] else 'blank'}: {_EMPTY_SECRET[name]}. Set it with "
                f"`{set_secret_command(stack, name, _SECRET_EXAMPLES[name])}`, or remove it with "
                f"`pulumi config rm --stack {stack} {_key([name])}`"
            )

    if not _broken(failed, "namespace") and not _broken(failed, "createNamespace"):
        problems += _namespace_problems(config)

    if not _broken(failed, "mongoUrl") and not _broken(failed, "mongodb", "inCluster"):
        problems += _mongo_source_problems(stack, config)

    if not _broken(failed, "nats", "bundled") and config.nats.bundled and config.mode == "raw":
        problems.append(
            f"{_key(['nats', 'bundled'])}: only helm mode has the chart's bundled NATS; remove it or use mode 'helm'"
        )

    problems += _autoscaling_problems(config, failed)
    problems += _workspace_problems(config, failed)
    if config.version and not any(_broken(failed, key) for key in ("version", "settings", "secretSettings")):
        problems += setting_problems(config.version, config.settings, revealed(config.secret_settings))[0]
    if not _broken(failed, "images") and not _broken(failed, "mode") and not _broken(failed, "nats", "bundled"):
        problems += _image_problems(config)

    stream_hub_keys = ("version", "microservices", "mode")
    if (
        config.version
        and not any(_broken(failed, key) for key in stream_hub_keys)
        and not _broken(failed, "services", "streamHub", "enabled")
    ):
        problems += _stream_hub_problems(config, Version.parse(config.version))
        if config.mode == "helm":
            problems += _chart_stream_hub_problems(config, Version.parse(config.version))
    return problems


UPLOAD_BODY_LIMIT = "100Mi"
"""The largest upload the Ingress (and Rocket.Chat's FileUpload_MaxFileSize default) lets through: staged in /tmp."""


def stack_set_settings(config: StackConfig) -> dict[str, str]:
    """The settings the stack forces itself, by id, and the key that does (a `settings` entry may not fight them)."""
    owned = {
        key.removeprefix(SETTING_ENV_PREFIX): "the stack itself (its Prometheus endpoint)"
        for key in MONOLITH.extra_env
        if key.startswith(SETTING_ENV_PREFIX)
    }
    if config.admin is not None:
        owned["Show_Setup_Wizard"] = f"{_key(['admin'])} (the setup wizard is skipped)"
    if config.smtp is not None:
        for setting in ("SMTP_Host", "SMTP_Port", "SMTP_Protocol", "From_Email", "SMTP_IgnoreTLS", "SMTP_Username"):
            owned[setting] = _key(["smtp"])
    if config.smtp_password is not None:
        owned["SMTP_Password"] = _key(["smtpPassword"])
    if config.uploads.storage:
        owned["FileUpload_Storage_Type"] = _key(["uploads", "storage"])
        owned |= dict.fromkeys(
            ("FileUpload_S3_Bucket", "FileUpload_S3_Region", "FileUpload_S3_BucketURL", "FileUpload_S3_ForcePathStyle")
            if config.uploads.storage == "s3"
            else ("FileUpload_FileSystemPath",)
            if config.uploads.storage == "filesystem"
            else (),
            _key(["uploads"]),
        )
    return owned


def revealed(secrets: Mapping[str, Any]) -> dict[str, str]:
    """Secret settings' values, for the checks that never show them."""
    return {key: value.get_secret_value() for key, value in secrets.items()}


def _workspace_problems(config: StackConfig, failed: set[tuple[Any, ...]]) -> list[str]:
    """Rocket.Chat's own configuration: what each key needs of the others."""
    problems = []
    if not _broken(failed, "admin") and not _broken(failed, "adminPassword"):
        if config.admin is not None and config.admin_password is None:
            problems.append(
                f"{_key(['adminPassword'])}: required with rocketchat:admin: Rocket.Chat creates the first admin only "
                "from a password; set it with `pulumi config set --secret rocketchat:adminPassword '...'`"
            )
        if config.admin is None and config.admin_password is not None:
            problems.append(f"{_key(['admin'])}: required with rocketchat:adminPassword: give username and email")
    if config.smtp is None and config.smtp_password is not None and not _broken(failed, "smtp"):
        problems.append(f"{_key(['smtp'])}: required with rocketchat:smtpPassword: give at least host")
    uploads = config.uploads
    if not _broken(failed, "uploads"):
        if uploads.storage == "s3" and uploads.s3 is None:
            problems.append(f"{_key(['uploads', 's3'])}: required with storage 's3': give at least bucket")
        for kind in ("s3", "filesystem"):
            if getattr(uploads, kind) is not None and uploads.storage != kind:
                problems.append(
                    f"{_key(['uploads', kind])}: has no effect unless rocketchat:uploads.storage is '{kind}' "
                    f"(it is {uploads.storage or 'unset: GridFS'}); set the storage or remove the key"
                )
        files = uploads.filesystem
        if uploads.storage == "filesystem" and (files is None or files.access_mode == "ReadWriteOnce"):
            many = config.monolith.replicas > 1 or config.monolith.autoscaling is not None
            if files is not None and many:
                problems.append(
                    f"{_key(['uploads', 'filesystem', 'accessMode'])}: ReadWriteOnce mounts on one node only, and "
                    f"the monolith runs {config.monolith.replicas} pods"
                    + (" and autoscales" if config.monolith.autoscaling else "")
                    + ": the pods on other nodes would not start. Use ReadWriteMany (a storage class that offers it: "
                    "NFS, CephFS, EFS, Azure Files), one monolith pod, or storage 's3'"
                )
        if uploads.tmp_size and parse_quantity(uploads.tmp_size) < parse_quantity(UPLOAD_BODY_LIMIT):
            problems.append(
                f"{_key(['uploads', 'tmpSize'])}: {uploads.tmp_size} is less than one upload of the "
                f"{UPLOAD_BODY_LIMIT} the Ingress lets through, and uploads are staged in /tmp before they reach their "
                "store: give at least that, better several times over"
            )
    if not _broken(failed, "settings"):
        owned = stack_set_settings(config)
        for setting in sorted(set(config.settings) & set(owned)):
            problems.append(
                f"{_key(['settings', setting])}: set by {owned[setting]}; remove it from rocketchat:settings"
            )
        for setting in sorted(set(config.secret_settings) & set(owned)):
            problems.append(
                f"{_key(['secretSettings', setting])}: set by {owned[setting]}; remove it from "
                "rocketchat:secretSettings"
            )
    return problems


ROCKETCHAT_IMAGE_KEYS = ("monolith", "account", "authorization", "presence", "ddpStreamer", "streamHub")


def _image_problems(config: StackConfig) -> list[str]:
    """What the official chart cannot do with images (checked against chart 7.0.2's templates)."""
    if config.mode != "helm":
        return []
    problems = [
        f"{_key(['images', 'digests', key])}: the official chart gives every Rocket.Chat image the one tag "
        "`image.tag`, so it cannot pull one of them by digest; remove it (a digest still pins NATS, its exporter and "
        "MongoDB), mirror that digest under the version's tag, or use mode 'raw'"
        for key in sorted(config.images.digests)
        if key in ROCKETCHAT_IMAGE_KEYS
    ]
    if config.images.registry and config.nats.bundled:
        problems.append(
            f"{_key(['images', 'registry'])}: the chart's bundled NATS (its nats chart 0.15) takes no registry, so "
            "its images would still come from Docker Hub; remove rocketchat:nats.bundled (the stack's own NATS "
            "follows the mirror) or rocketchat:images.registry"
        )
    return problems


def _autoscaled(config: StackConfig) -> list[tuple[list[str], Any, AutoscalingConfig]]:
    """(key path, workload config, autoscaling) of every workload the stack file asks to autoscale."""
    found: list[tuple[list[str], Any, AutoscalingConfig]] = []
    if config.monolith.autoscaling:
        found.append((["monolith", "autoscaling"], config.monolith, config.monolith.autoscaling))
    for workload in MICROSERVICES:
        field = args_key(workload)
        given = getattr(config.services, field)
        if given.autoscaling:
            found.append((["services", workload.key, "autoscaling"], given, given.autoscaling))
    return found


def _autoscaling_problems(config: StackConfig, failed: set[tuple[Any, ...]]) -> list[str]:
    problems = []
    for path, given, scaling in _autoscaled(config):
        if _broken(failed, *path[:-1]):
            continue
        if path[1] == STREAM_HUB.key:
            problems.append(
                f"{_key(path)}: stream-hub can never autoscale: it runs exactly one pod, never two (two would publish "
                "every database change twice); remove the key"
            )
            continue
        if config.mode == "helm":
            problems.append(
                f"{_key(path)}: helm mode cannot autoscale: the official chart (7.0.2) sets every Deployment's "
                "replica count on each `helm upgrade`, so each `pulumi up` would undo what a HorizontalPodAutoscaler "
                f"chose (and the chart has no autoscaler of its own). Use mode 'raw', or remove the key and set "
                f"{_key([*path[:-1], 'replicas'])}"
            )
            continue
        floor, why = _autoscaling_floor(config, path, given, scaling)
        if scaling.max_replicas < floor:
            problems.append(
                f"{_key([*path, 'maxReplicas'])}: {scaling.max_replicas} is below the autoscaler's minimum of {floor} "
                f"({why}); set maxReplicas to {floor} or more"
            )
    return problems


def _autoscaling_floor(config: StackConfig, path: list[str], given: Any, scaling: AutoscalingConfig) -> tuple[int, str]:
    """The autoscaler's minimum, and where it comes from (for the message)."""
    if scaling.min_replicas is not None:
        return scaling.min_replicas, f"{_key([*path, 'minReplicas'])}"
    if given.replicas is not None:
        return given.replicas, f"{_key([*path[:-1], 'replicas'])}, which minReplicas defaults to"
    if path[-2] == DDP_STREAMER.key:
        needed = ddp_streamer_replicas_for(config.concurrent_users)
        return needed, (
            f"one ddp-streamer pod per {USERS_PER_DDP_STREAMER} of rocketchat:concurrentUsers "
            f"{config.concurrent_users}, which minReplicas defaults to"
        )
    return 1, "minReplicas defaults to 1"


def _namespace_problems(config: StackConfig) -> list[str]:
    if config.namespace in RESERVED_NAMESPACES:
        return [
            (
                f"{_key(['namespace'])}: {config.namespace!r} belongs to Kubernetes itself; choose a namespace of the "
                f"workspace's own, e.g. rocketchat (never {', '.join(RESERVED_NAMESPACES)})"
            )
        ]
    if config.namespace == "default" and config.create_namespace:
        return [
            (
                f"{_key(['namespace'])}: 'default' always exists and is not this stack's to create (or to delete on "
                "`pulumi destroy`); choose another namespace, or set rocketchat:createNamespace to false to deploy "
                "into it"
            )
        ]
    return []


def deployed_problems(config: StackConfig, deployed: Deployed) -> list[str]:
    """Changes one `pulumi up` cannot make safely over what runs, each with the way that works."""
    mode = config.mode
    release = config.chart.release_name
    instance = config.instance or (release if mode == "helm" else DEFAULT_RAW_INSTANCE)
    problems = []
    if mode != deployed.mode and config.mongodb.in_cluster is not None:
        problems.append(
            f"{_key(['mode'])}: this stack runs in {deployed.mode} mode with an in-cluster MongoDB, and the other mode "
            "keeps its database elsewhere (raw: the MongoReplicaSet; helm: the chart's bundled MongoDB): switching "
            f"would start Rocket.Chat on an empty database. Keep mode '{deployed.mode}', or move the data to an "
            "external replica set (rocketchat:mongoUrl) first"
        )
    elif deployed.mode == "raw" and mode == "helm" and release == deployed.instance:
        problems.append(
            f"{_key(['chart', 'releaseName'])}: the chart names its objects '{release}-<workload>', the names of this "
            f"stack's raw workloads, which still run (its last `pulumi up` was in raw mode): Helm would refuse to "
            "take them over, and Pulumi removes the raw ones only at the end of the update. Give the release another "
            "name and keep the instance, and the chart's pods start beside the raw ones, the Ingress moves to them "
            f"once they are ready, and the raw ones go at the end of the same `up`: `pulumi config set --path "
            f"{CONFIG_NAMESPACE}:chart.releaseName {release}-chart` and `pulumi config set {CONFIG_NAMESPACE}:instance "
            f"{deployed.instance}`"
        )
    elif deployed.mode == "helm" and mode == "raw" and instance == deployed.release_name:
        problems.append(
            f"{_key(['mode'])}: this stack runs the chart's release '{deployed.release_name}' (its last `pulumi up`), "
            f"whose objects are named '{deployed.release_name}-<workload>' as raw mode would name its own: "
            "Kubernetes would refuse the raw ones while the chart's run, and Pulumi removes the release only at the "
            "end of the update. Switch in two updates, neither with downtime: first, still in helm mode, move the "
            f"release to another name and keep the instance (`pulumi config set {CONFIG_NAMESPACE}:mode helm`, "
            f"`pulumi config set --path {CONFIG_NAMESPACE}:chart.releaseName {deployed.release_name}-chart`, "
            f"`pulumi config set {CONFIG_NAMESPACE}:instance {deployed.instance}`, `pulumi up`); then "
            f"`pulumi config set {CONFIG_NAMESPACE}:mode raw` and `pulumi up`"
        )
    elif instance != deployed.instance:
        problems.append(
            f"{_key(['instance'])}: this stack's own objects (NATS, its Secrets, NetworkPolicies and Ingress, and raw "
            f"mode's workloads) carry the instance '{deployed.instance}' in their names and labels (its last `pulumi "
            f"up`); '{instance}' would delete and recreate them, the NATS cluster with them. Keep it: "
            f"`pulumi config set {CONFIG_NAMESPACE}:instance {deployed.instance}`"
        )
    return problems


def data_problems(config: StackConfig, deployed: Deployed) -> list[str]:
    """Changes that would delete the namespace the stack made, or delete or abandon its in-cluster database's data.
    The database's claims outlive its StatefulSet (their retention policy is Retain) but not their namespace, and a
    database the stack stops running is one Rocket.Chat no longer reads."""
    problems = []
    if deployed.namespace_created and not config.create_namespace:
        problems.append(
            f"{_key(['createNamespace'])}: this stack made namespace {deployed.namespace} (its last `pulumi up`), and "
            "with createNamespace false it would stop managing it: Pulumi would delete the namespace, and with it "
            "everything in it"
            + (", the in-cluster database's volumes included" if deployed.database else "")
            + ". Keep it true: `pulumi config set rocketchat:createNamespace true`"
        )
    database = deployed.database
    if database is None or config.mongodb.allow_data_loss:
        return problems
    at_stake = f"the in-cluster MongoDB's data (claims {', '.join(database.claims)} in namespace {database.namespace})"
    move = (
        "To move the data, dump it first (`kubectl exec -n {ns} {pod} -- mongodump --archive --db rocketchat > "
        "rocketchat.archive`) and restore it into the new database after the update (`mongorestore --archive`); "
        f"to let it go, set `pulumi config set --path {CONFIG_NAMESPACE}:mongodb.allowDataLoss true` for that update"
    ).format(ns=database.namespace, pod=f"{database.statefulset}-0")
    if config.namespace != database.namespace:
        fate = (
            f"deleted with namespace {database.namespace}, which this stack made"
            if deployed.namespace_created
            else f"left behind in namespace {database.namespace} while an empty database starts in {config.namespace}"
        )
        problems.append(
            f"{_key(['namespace'])}: {at_stake} would be {fate}. Keep rocketchat:namespace {database.namespace}. {move}"
        )
    elif config.mode == "raw" and (config.mongodb.in_cluster is None or config.mongo_url is not None):
        problems.append(
            f"{_key(['mongodb', 'inCluster'])}: without it this stack stops running its in-cluster MongoDB, and "
            f"Rocket.Chat starts on the other database: {at_stake} would no longer be used (the claims stay until "
            f"someone deletes them). Keep rocketchat:mongodb.inCluster. {move}"
        )
    elif config.mongodb.in_cluster is not None and (
        (config.mongodb.in_cluster.storage_class_name or None) != (database.storage_class_name or None)
    ):
        problems.append(
            f"{_key(['mongodb', 'inCluster', 'storageClassName'])}: the database's claims were made with storage "
            f"class {database.storage_class_name or '(the cluster default)'} and a claim never changes class: the "
            "StatefulSet would be replaced (every member stopped at once) and find the same claims again. Keep "
            f"{database.storage_class_name or 'it unset'}. To move to another class: {move[0].lower()}{move[1:]}"
        )
    return problems


def provider_problems(provider_config: Mapping[str, Any]) -> list[str]:
    value = provider_config.get(SECRET_MUTABLE_KEY)
    if str(value).lower() == "true":
        return []
    key = f"{PROVIDER_PREFIX}{SECRET_MUTABLE_KEY}"
    return [
        (
            f"{key}: must be true (got {json.dumps(value)}), so that a new rocketchat:mongoUrl, rocketchat:license or "
            "NATS password updates its Secret in place and rolls the pods that read it; without it the Kubernetes "
            "provider deletes the Secret and creates it again, and every Deployment reading it with it (all those "
            f"pods down at once). Run `pulumi config set {key} true`"
        )
    ]


def _chart_stream_hub_problems(config: StackConfig, version: Version) -> list[str]:
    """The official chart draws its stream-hub line at `<=7.7.0`, not `<7.7`, and applies it to a monolith too."""
    if version > CHART_STREAM_HUB_REQUIRED_UP_TO:
        return []
    if not config.microservices:
        return [
            (
                f"{_key(['microservices'])}: the official chart refuses to render a monolith-only release of "
                f"Rocket.Chat {version} (its stream-hub check fails up to 7.7.0); use microservices: true, "
                "mode 'raw', or 7.7.1 or later"
            )
        ]
    if version >= STREAM_HUB_OPTIONAL_FROM and not config.services.stream_hub.enabled:
        return [
            (
                f"{_key(['services', 'streamHub', 'enabled'])}: the official chart requires stream-hub for "
                f"Rocket.Chat {version} (its check fails up to 7.7.0); set it to true or run 7.7.1 or later"
            )
        ]
    return []


def _mongo_source_problems(stack: str, config: StackConfig) -> list[str]:
    in_cluster = config.mongodb.in_cluster is not None
    url = config.mongo_url.get_secret_value() if config.mongo_url else None
    if url is not None and not url.strip():
        return []  # empty: said above, with the command that sets it
    if url is not None and url != url.strip():
        command = set_secret_command(stack, "mongoUrl", EXAMPLE_MONGO_URL)
        return [
            (
                f"{_key(['mongoUrl'])}: has blanks or a line break around it (value not shown): a URL never does, and "
                f"the driver would not parse it; set it again with `{command}`"
            )
        ]
    if in_cluster and url:
        return [
            (
                f"{_key(['mongodb', 'inCluster'])}: choose one MongoDB source: remove rocketchat:mongodb.inCluster "
                "or the rocketchat:mongoUrl secret"
            )
        ]
    if not in_cluster and not url:
        return [
            (
                f"{_key(['mongoUrl'])}: no MongoDB source: this secret is the MongoDB replica set Rocket.Chat keeps "
                f"all its data in, and the stack runs no database of its own. Set it with "
                f"`{set_secret_command(stack, 'mongoUrl', EXAMPLE_MONGO_URL)}`, or set rocketchat:mongodb.inCluster "
                "(development)"
            )
        ]
    if url and not url.startswith(("mongodb://", "mongodb+srv://")):
        return [f"{_key(['mongoUrl'])}: must start with mongodb:// or mongodb+srv:// (value not shown)"]
    if url and url.startswith("mongodb://") and "replicaSet=" not in url:
        return [
            (
                f"{_key(['mongoUrl'])}: must name the replica set (…?replicaSet=rs0): Rocket.Chat needs change "
                "streams, which only replica sets have (value not shown)"
            )
        ]
    return []


def _stream_hub_problems(config: StackConfig, version: Version) -> list[str]:
    enabled = config.services.stream_hub.enabled
    key = _key(["services", "streamHub", "enabled"])
    rule = stream_hub_rule(version)
    if not config.microservices:
        return []
    if rule is StreamHubRule.REQUIRED and enabled is False:
        return [f"{key}: Rocket.Chat {version} (before 7.7) needs stream-hub; remove the key or set it to true"]
    if rule is StreamHubRule.REMOVED and enabled:
        return [
            f"{key}: stream-hub was removed in Rocket.Chat 8.0 and {version} has none; remove it or set it to false"
        ]
    return []


def ignored_settings(config: StackConfig, raw: Mapping[str, Any], plans: Iterable[WorkloadPlan]) -> list[str]:
    """Keys the stack file sets that change nothing in what is deployed, each with the reason: a setting that is
    silently ignored looks applied."""
    notes = []
    running = {plan.workload.key for plan in plans}
    services = raw.get("services")
    if not config.microservices and isinstance(services, dict) and services:
        notes.append(
            f"{_key(['services'])} is ignored: rocketchat:microservices is false, so the monolith runs alone and no "
            "microservice is deployed"
        )
    elif isinstance(services, dict):
        stream_hub = services.get("streamHub")
        given = sorted(set(stream_hub) - {"enabled"}) if isinstance(stream_hub, dict) else []
        if given and STREAM_HUB.key not in running:
            why = (
                f"Rocket.Chat {config.version} has no stream-hub (removed in 8.0)"
                if config.version and stream_hub_rule(Version.parse(config.version)) is StreamHubRule.REMOVED
                else "stream-hub does not run (rocketchat:services.streamHub.enabled is not true)"
            )
            notes += [f"{_key(['services', 'streamHub', key])} is ignored: {why}" for key in given]
    nats = raw.get("nats")
    if config.nats.bundled and config.mode == "helm" and isinstance(nats, dict) and "resources" in nats:
        notes.append(
            f"{_key(['nats', 'resources'])} is ignored: with rocketchat:nats.bundled the chart's own NATS runs, with "
            "the chart's resources"
        )
    dns = raw.get("dns")
    if isinstance(dns, dict) and "annotationPrefix" in dns and not config.dns.external_dns:
        notes.append(
            f"{_key(['dns', 'annotationPrefix'])} is ignored: rocketchat:dns.externalDns is not true, so nothing is "
            "annotated for external-dns"
        )
    ingress = raw.get("ingress")
    if isinstance(ingress, dict) and "stickySessions" in ingress and config.ingress.class_name != "nginx":
        notes.append(
            f"{_key(['ingress', 'stickySessions'])} is ignored: sticky sessions are ingress-nginx's annotations, and "
            f"rocketchat:ingress.className is {config.ingress.class_name}"
        )
    mongodb = raw.get("mongodb")
    if isinstance(mongodb, dict) and mongodb.get("keepOnDestroy") is True and not config.create_namespace:
        notes.append(
            f"{_key(['mongodb', 'keepOnDestroy'])} is ignored: it keeps the namespace the stack made, and with "
            "rocketchat:createNamespace false the stack makes none (the database's claims are kept in any case)"
        )
    enabled = config.ingress.enabled if config.ingress.enabled is not None else config.gateway is None
    if isinstance(ingress, dict) and not enabled:
        # The scheme of the URL still reads ingress.tls, and the web policy ingress.controllerNamespace.
        unused = sorted(set(ingress) & {"className", "controller", "annotations", "stickySessions", "skipAwait"})
        notes += [
            f"{_key(['ingress', key])} is ignored: no Ingress is published (rocketchat:gateway carries the traffic; "
            "set rocketchat:ingress.enabled to true to publish both)"
            for key in unused
        ]
    monitoring = raw.get("monitoring")
    if isinstance(monitoring, dict):
        if "labels" in monitoring and not (config.monitoring.pod_monitor or config.monitoring.prometheus_rule):
            notes.append(
                f"{_key(['monitoring', 'labels'])} is ignored: they label the PodMonitors and the PrometheusRule, and "
                "neither rocketchat:monitoring.podMonitor nor rocketchat:monitoring.prometheusRule is true"
            )
        if "runbookUrl" in monitoring and not config.monitoring.prometheus_rule:
            notes.append(
                f"{_key(['monitoring', 'runbookUrl'])} is ignored: the alerts link to it, and "
                "rocketchat:monitoring.prometheusRule is not true"
            )
    return notes
