"""RocketChatWorkspace: Rocket.Chat's own configuration as code: its settings, their secrets, the first admin, mail,
file uploads and the organisation's CA, turned into what Rocket.Chat's processes read.

Facts (docs/rocketchat-facts.md, from Rocket.Chat's source): only the monolith's settings registry reads settings
from the environment (the services read them from MongoDB and the bus); `OVERWRITE_SETTING_<id>` is applied on every
start, while a variable named after the id alone only seeds it once. The `SMTP_*` settings are what mail uses (the
monolith rebuilds `MAIL_URL` from them). `ADMIN_PASS` (with `ADMIN_USERNAME`, `ADMIN_EMAIL`, `ADMIN_NAME`) creates the
first admin when none exists; the setup wizard is skipped by forcing `Show_Setup_Wizard` to `completed`. Node reads
extra CAs from `NODE_EXTRA_CA_CERTS` (a file path), which Rocket.Chat never overrides.

Secret values live only in the component's Secret (`<instance>-settings`) and reach the monolith through
`secretKeyRef`; one keyed digest of them all (which reveals nothing) is a pod annotation, so a new secret value rolls
the monolith alone. The CA is not secret: a ConfigMap, mounted read-only into every Rocket.Chat container.
"""

import hashlib
import json
from typing import Any, NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.core import v1 as core

from components import k8s
from components.args import SecretKeyArgs
from components.catalog import DEFAULT_INSTANCE
from components.credentials import ROLLOUT_ANNOTATION_PREFIX, digest_of, secret_key

SETTING_ENV_PREFIX = "OVERWRITE_SETTING_"
CA_MOUNT_DIR = "/etc/rocketchat/trusted-ca"
CA_FILE = "ca.crt"
UPLOADS_PATH = "/app/uploads"
DEFAULT_TMP_SIZE = "1Gi"
"""Uploads are staged under /tmp/ufs before they reach their store: ten times the Ingress's 100 MiB body limit."""
ADMIN_PASSWORD_KEY = "admin-password"
SECRET_SETTINGS_ANNOTATION = f"{ROLLOUT_ANNOTATION_PREFIX}settings"
TRUSTED_CA_ANNOTATION = f"{ROLLOUT_ANNOTATION_PREFIX}trusted-ca"
STORAGE_TYPES = {"gridfs": "GridFS", "s3": "AmazonS3", "filesystem": "FileSystem"}
"""`uploads.storage` -> Rocket.Chat's `FileUpload_Storage_Type`."""


class AdminArgs(TypedDict, total=False):
    username: str
    email: str
    name: str


class SmtpArgs(TypedDict, total=False):
    host: str
    port: int
    username: str
    from_email: str
    protocol: str
    """`smtp` or `smtps`."""
    ignore_tls: bool


class S3Args(TypedDict, total=False):
    bucket: str
    region: str
    endpoint: str
    """An S3-compatible store's URL (MinIO, Ceph): Rocket.Chat's `FileUpload_S3_BucketURL`."""
    force_path_style: bool


class FilesystemUploadsArgs(TypedDict, total=False):
    size: str
    storage_class_name: str
    access_mode: str
    """`ReadWriteMany` (default: every monolith pod mounts it) or `ReadWriteOnce` (one monolith pod)."""


class UploadsArgs(TypedDict, total=False):
    storage: str
    """`gridfs` (Rocket.Chat's default), `s3` or `filesystem`."""
    s3: S3Args
    filesystem: FilesystemUploadsArgs
    tmp_size: str
    """The monolith's /tmp, where uploads are staged (default 1Gi)."""


class WorkspaceArgs(TypedDict):
    namespace: pulumi.Input[str]
    instance: NotRequired[str]
    settings: NotRequired[dict[str, str]]
    """Setting id -> the value as the environment gives it (`true`, `42`, text), forced on every start."""
    secret_settings: NotRequired[dict[str, pulumi.Input[str]]]
    """Setting id -> secret value (OAuth client secrets, the LDAP bind password, S3 keys), kept in a Secret."""
    admin: NotRequired[AdminArgs]
    admin_password: NotRequired[pulumi.Input[str]]
    smtp: NotRequired[SmtpArgs]
    smtp_password: NotRequired[pulumi.Input[str]]
    uploads: NotRequired[UploadsArgs]
    trusted_ca: NotRequired[str]
    """PEM certificates of the organisation's CA, trusted by every Rocket.Chat container."""
    rollout_key: NotRequired[pulumi.Input[str]]
    """Keys the digest of the secret values (the stack's rollout key); without it no digest rolls the monolith."""


class EnvArgs(TypedDict):
    """One environment variable: a plain value, or a key of a Secret."""

    name: str
    value: NotRequired[str]
    secret: NotRequired[SecretKeyArgs]


class WorkloadConfigArgs(TypedDict, total=False):
    """What the Rocket.Chat workloads are given of the workspace's configuration (MicroserviceSet and
    RocketChatRelease take it)."""

    monolith_env: list[EnvArgs]
    monolith_annotations: dict[str, pulumi.Input[str]]
    """Pod annotations that roll the monolith when a secret value changes."""
    env: list[EnvArgs]
    """For every Rocket.Chat container (the CA's path)."""
    annotations: dict[str, str]
    """Pod annotations of every Rocket.Chat workload (the CA's digest)."""
    trusted_ca_config_map: str
    uploads_claim: str
    """A PersistentVolumeClaim mounted at /app/uploads in every monolith pod."""
    tmp_size: str


def plain_settings(args: WorkspaceArgs) -> dict[str, str]:
    """Every setting forced through the environment with a value that is not secret, by id."""
    forced = dict(args.get("settings") or {})
    if args.get("admin"):
        forced["Show_Setup_Wizard"] = "completed"
    smtp = args.get("smtp") or {}
    for key, setting in (("host", "SMTP_Host"), ("from_email", "From_Email"), ("protocol", "SMTP_Protocol")):
        if smtp.get(key):
            forced[setting] = str(smtp[key])
    if smtp.get("port") is not None:
        forced["SMTP_Port"] = str(smtp["port"])  # a string setting in Rocket.Chat
    if smtp.get("ignore_tls") is not None:
        forced["SMTP_IgnoreTLS"] = "true" if smtp["ignore_tls"] else "false"
    uploads = args.get("uploads") or {}
    if uploads.get("storage"):
        forced["FileUpload_Storage_Type"] = STORAGE_TYPES[uploads["storage"]]
    if uploads.get("storage") == "s3":
        s3 = uploads.get("s3") or {}
        for key, setting in (("bucket", "FileUpload_S3_Bucket"), ("region", "FileUpload_S3_Region")):
            if s3.get(key):
                forced[setting] = s3[key]
        if s3.get("force_path_style") is not None:
            forced["FileUpload_S3_ForcePathStyle"] = "true" if s3["force_path_style"] else "false"
    if uploads.get("storage") == "filesystem":
        forced["FileUpload_FileSystemPath"] = UPLOADS_PATH
    return forced


def secret_values(args: WorkspaceArgs) -> dict[str, pulumi.Input[str]]:
    """Every secret value the monolith reads, by the Secret key it is kept under (a setting id, or `admin-password`).

    Rocket.Chat registers `SMTP_Username` and `FileUpload_S3_BucketURL` as secret settings: they are kept with the
    secrets although they come from plain keys."""
    values: dict[str, pulumi.Input[str]] = dict(args.get("secret_settings") or {})
    smtp = args.get("smtp") or {}
    if smtp.get("username"):
        values["SMTP_Username"] = smtp["username"]
    if args.get("smtp_password") is not None:
        values["SMTP_Password"] = args["smtp_password"]  # type: ignore[typeddict-item]
    s3 = (args.get("uploads") or {}).get("s3") or {}
    if (args.get("uploads") or {}).get("storage") == "s3" and s3.get("endpoint"):
        values["FileUpload_S3_BucketURL"] = s3["endpoint"]
    if args.get("admin_password") is not None:
        values[ADMIN_PASSWORD_KEY] = args["admin_password"]  # type: ignore[typeddict-item]
    return values


def admin_env(admin: AdminArgs | None) -> list[EnvArgs]:
    admin = admin or {}
    return [
        {"name": env, "value": admin[key]}  # type: ignore[literal-required]
        for key, env in (("username", "ADMIN_USERNAME"), ("email", "ADMIN_EMAIL"), ("name", "ADMIN_NAME"))
        if admin.get(key)
    ]


def setting_env_name(setting_id: str) -> str:
    return f"{SETTING_ENV_PREFIX}{setting_id}"


def ca_digest(pem: str) -> str:
    """The CA is public: a plain digest rolls the pods when it changes."""
    return hashlib.sha256(pem.encode()).hexdigest()[:16]


class RocketChatWorkspace(pulumi.ComponentResource):
    """The Secret of the workspace's secret settings, the CA's ConfigMap and the uploads volume's claim, each where
    asked; `workloads` is what MicroserviceSet or RocketChatRelease give Rocket.Chat's pods of them."""

    workloads: WorkloadConfigArgs
    """Not an output: plain names and inputs the stack hands on."""

    def __init__(self, name: str, args: WorkspaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketchat:index:RocketChatWorkspace", name, None, opts)
        instance = args.get("instance", DEFAULT_INSTANCE)
        namespace = args["namespace"]
        child = pulumi.ResourceOptions(parent=self)
        obj_labels = k8s.object_labels(k8s.labels("rocketchat", "workspace", instance))
        config: WorkloadConfigArgs = {}

        monolith_env: list[EnvArgs] = [
            {"name": setting_env_name(setting), "value": value}
            for setting, value in sorted(plain_settings(args).items())
        ]
        monolith_env += admin_env(args.get("admin"))
        secrets = secret_values(args)
        if secrets:
            secret_name = f"{instance}-settings"
            made = core.Secret(
                secret_name,
                metadata=k8s.metadata(secret_name, namespace, obj_labels),
                type="Opaque",
                string_data={key: pulumi.Output.secret(value) for key, value in secrets.items()},
                opts=child,
            )
            for key in sorted(secrets):
                env = "ADMIN_PASS" if key == ADMIN_PASSWORD_KEY else setting_env_name(key)
                monolith_env.append({"name": env, "secret": secret_key(made.metadata.name, key)})
            if args.get("rollout_key") is not None:
                everything = pulumi.Output.all(*[secrets[k] for k in sorted(secrets)]).apply(
                    lambda values: json.dumps([sorted(secrets), values])
                )
                config["monolith_annotations"] = {
                    SECRET_SETTINGS_ANNOTATION: digest_of(args["rollout_key"], everything)  # type: ignore[typeddict-item]
                }
        if monolith_env:
            config["monolith_env"] = monolith_env

        if args.get("trusted_ca"):
            ca_name = f"{instance}-trusted-ca"
            core.ConfigMap(
                ca_name,
                metadata=k8s.metadata(ca_name, namespace, obj_labels),
                data={CA_FILE: args["trusted_ca"]},  # type: ignore[typeddict-item]
                opts=child,
            )
            config["trusted_ca_config_map"] = ca_name
            config["env"] = [{"name": "NODE_EXTRA_CA_CERTS", "value": f"{CA_MOUNT_DIR}/{CA_FILE}"}]
            config["annotations"] = {TRUSTED_CA_ANNOTATION: ca_digest(args["trusted_ca"])}  # type: ignore[typeddict-item]

        uploads = args.get("uploads") or {}
        if uploads.get("storage") == "filesystem":
            claim = f"{instance}-uploads"
            files = uploads.get("filesystem") or {}
            core.PersistentVolumeClaim(
                claim,
                metadata=k8s.metadata(claim, namespace, obj_labels),
                spec=core.PersistentVolumeClaimSpecArgs(
                    access_modes=[files.get("access_mode", "ReadWriteMany")],
                    storage_class_name=files.get("storage_class_name"),
                    resources=core.VolumeResourceRequirementsArgs(requests={"storage": files.get("size", "10Gi")}),
                ),
                # The workspace's files: never deleted by an update that stops asking for them, nor by destroy.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            config["uploads_claim"] = claim
        if uploads.get("tmp_size"):
            config["tmp_size"] = uploads["tmp_size"]

        self.workloads = config
        self.register_outputs({})


def env_vars(entries: list[EnvArgs]) -> list[core.EnvVarArgs]:
    """The entries as a container's env (raw mode)."""
    return [
        core.EnvVarArgs(
            name=e["name"],
            value_from=core.EnvVarSourceArgs(
                secret_key_ref=core.SecretKeySelectorArgs(name=e["secret"]["name"], key=e["secret"]["key"])
            ),
        )
        if "secret" in e
        else core.EnvVarArgs(name=e["name"], value=e["value"])
        for e in entries
    ]


def env_values(entries: list[EnvArgs]) -> list[dict[str, Any]]:
    """The entries as chart values (`extraEnv`): plain data, a Secret by its name."""
    return [
        {"name": e["name"], "valueFrom": {"secretKeyRef": {"name": e["secret"]["name"], "key": e["secret"]["key"]}}}
        if "secret" in e
        else {"name": e["name"], "value": e["value"]}
        for e in entries
    ]
