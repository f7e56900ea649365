"""A real workspace configured as code, on the real engine, in both modes: Rocket.Chat's settings and secret settings,
the first admin, SMTP, S3 uploads and the organisation's CA; a registry mirror with a pull secret and the client
address count (production edges). What the API server holds; probe secrets looked for in `pulumi stack export`, the
outputs, `preview --diff` and the Helm release's stored values (0 hits); a rotated secret setting rolls the monolith
alone; a filesystem-uploads stack's claim mounted in every monolith pod.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import REPORT, ChartRepository, Cluster, Pulumi
from tests.e2e.support import (
    Progress,
    Stack,
    destroy_completely,
    format_rollouts,
    make_stack,
    rolled,
    rollouts,
    wait_for,
)

pytestmark = pytest.mark.e2e

PROBES = {
    "adminPassword": "probe-admin-5c1e",
    "smtpPassword": "probe-smtp-8a2f",
    "oauth": "probe-oauth-3d9b",
    "oauth-rotated": "probe-oauth-rotated-6e0a",
    "mongoUrl": "probe-mongo-2b7c",
}
CA = "-----BEGIN CERTIFICATE-----\nMIIBe2eprobe\n-----END CERTIFICATE-----\n"
MIRROR = "mirror.e2e.internal:5000/hub"
OAUTH_ID = "Accounts_OAuth_Custom-Gitlab-secret"
CONFIG: dict[str, Any] = {
    "rocketchat:settings": {"Site_Name": "E2E chat", "Accounts_TwoFactorAuthentication_Enabled": False},
    "rocketchat:admin": {"username": "admin", "email": "admin@example.com", "name": "Admin"},
    "rocketchat:smtp": {"host": "smtp.example.com", "port": 587, "from": "chat@example.com", "username": "mailer"},
    "rocketchat:uploads": {"storage": "s3", "s3": {"bucket": "chat-files", "region": "eu-central-1"}},
    "rocketchat:trustedCA": CA,
    "rocketchat:images": {"registry": MIRROR, "pullSecrets": ["mirror-pull"]},
}
ROCKETCHAT_WORKLOADS = ("rocketchat", "account", "authorization", "presence", "ddp-streamer")


def set_secrets(stack: Stack) -> None:
    stack.set_secret("rocketchat:adminPassword", PROBES["adminPassword"])
    stack.set_secret("rocketchat:smtpPassword", PROBES["smtpPassword"])
    stack.run("config", "set", "--secret", "--path", f"rocketchat:secretSettings.{OAUTH_ID}", PROBES["oauth"])


def pods_of(cluster: Cluster, ns: str) -> dict[str, dict[str, Any]]:
    """Deployment name -> its pod template spec, as the API server holds it."""
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in cluster.items("deployments", ns)}


def env_sources(container: dict[str, Any]) -> dict[str, Any]:
    """Env var -> its value, or (Secret, key) where it comes from one."""
    found = {}
    for e in container.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        found[e["name"]] = (ref["name"], ref["key"]) if ref else e.get("value")
    return found


def probe_hits(text: str) -> list[str]:
    return [name for name, probe in PROBES.items() if probe in text]


def helm_stored_values(cluster: Cluster, ns: str, release: str) -> str:
    """The newest Helm release record's chart values, as Helm stored them (base64 of gzip of JSON)."""
    records = [
        s
        for s in cluster.items("secrets", ns)
        if s["metadata"].get("labels", {}).get("owner") == "helm"
        and s["metadata"].get("labels", {}).get("name") == release
    ]
    newest = max(records, key=lambda s: int(s["metadata"]["labels"]["version"]))
    payload = base64.b64decode(base64.b64decode(newest["data"]["release"]))
    return json.dumps(json.loads(gzip.decompress(payload))["config"])


def check_the_api(cluster: Cluster, ns: str, prefix: str, mode: str) -> dict[str, Any]:
    """What every mode must show: the monolith's configuration from where it belongs, the CA, the images, the pull
    secret, the client address count."""
    pods = pods_of(cluster, ns)
    names = {w: f"{prefix}-{w}" for w in ROCKETCHAT_WORKLOADS}
    assert set(names.values()) <= set(pods), sorted(pods)
    (monolith,) = pods[names["rocketchat"]]["containers"]
    env = env_sources(monolith)
    assert env["OVERWRITE_SETTING_Site_Name"] == "E2E chat"
    assert env["OVERWRITE_SETTING_Show_Setup_Wizard"] == "completed"
    assert env["OVERWRITE_SETTING_SMTP_Host"] == "smtp.example.com"
    assert env["OVERWRITE_SETTING_FileUpload_Storage_Type"] == "AmazonS3"
    assert env["ADMIN_PASS"] == ("rocketchat-settings", "admin-password")
    assert env[f"OVERWRITE_SETTING_{OAUTH_ID}"] == ("rocketchat-settings", OAUTH_ID)
    assert env["OVERWRITE_SETTING_SMTP_Password"] == ("rocketchat-settings", "SMTP_Password")
    assert env["HTTP_FORWARDED_COUNT"] == "1"
    (streamer,) = pods[names["ddp-streamer"]]["containers"]
    assert env_sources(streamer)["HTTP_FORWARDED_COUNT"] == "1"
    secret = cluster.json("get", "secret", "rocketchat-settings", "-n", ns)
    assert sorted(secret["data"]) == sorted([OAUTH_ID, "SMTP_Password", "SMTP_Username", "admin-password"])
    for workload, name in names.items():
        spec = pods[name]
        (container,) = spec["containers"]
        mounts = {m["name"]: m for m in container.get("volumeMounts") or []}
        assert mounts["trusted-ca"]["mountPath"] == "/etc/rocketchat/trusted-ca", name
        assert mounts["trusted-ca"].get("readOnly") is True, name
        assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}], name
        assert container["image"].startswith(f"{MIRROR}/rocketchat/"), container["image"]
        if mode == "raw" or workload == "rocketchat":
            assert env_sources(container)["NODE_EXTRA_CA_CERTS"] == "/etc/rocketchat/trusted-ca/ca.crt", name
    nats = cluster.json("get", "statefulset", "rocketchat-nats", "-n", ns)["spec"]["template"]["spec"]
    assert nats["imagePullSecrets"] == [{"name": "mirror-pull"}]
    assert nats["containers"][0]["image"].startswith(f"{MIRROR}/library/nats:")
    return {"monolith env": sorted(env), "images": sorted({p["containers"][0]["image"] for p in pods.values()})}


def no_probe_anywhere(stack: Stack) -> dict[str, int]:
    hits = {
        "stack export": probe_hits(stack.run("stack", "export").stdout),
        "outputs": probe_hits(stack.run("stack", "output", "--json", "--show-secrets").stdout),
        "preview --diff": probe_hits(stack.run("preview", "--diff").stdout),
    }
    assert {where: found for where, found in hits.items() if found} == {}, hits
    return {where: len(found) for where, found in hits.items()}


@pytest.fixture(scope="module")
def raw_stack(pulumi: Pulumi, cluster: Cluster) -> Iterator[Stack]:
    stack = make_stack(
        pulumi, cluster, "workspace-raw-e2e", "Pulumi.dev.yaml", overrides={"rocketchat:namespace": "ws-raw", **CONFIG}
    )
    set_secrets(stack)
    yield stack
    stack.retire()


def test_raw_mode_configures_the_workspace(raw_stack: Stack, cluster: Cluster, progress: Progress) -> None:
    raw_stack.timed("workspace: up (raw)", "up", "--yes", "--skip-preview")
    shown = check_the_api(cluster, "ws-raw", "rocketchat", "raw")
    hits = no_probe_anywhere(raw_stack)
    REPORT.append(f"workspace (raw): monolith env {shown['monolith env']}; images {shown['images']}; probes: {hits}")
    progress.done.add("raw")


def test_rotating_a_secret_setting_rolls_the_monolith_alone(
    raw_stack: Stack, cluster: Cluster, progress: Progress
) -> None:
    progress.need("raw")
    before = rollouts(cluster, "ws-raw")
    secret_uid = cluster.json("get", "secret", "rocketchat-settings", "-n", "ws-raw")["metadata"]["uid"]
    raw_stack.run(
        "config", "set", "--secret", "--path", f"rocketchat:secretSettings.{OAUTH_ID}", PROBES["oauth-rotated"]
    )
    raw_stack.timed("workspace: up (secret setting rotated)", "up", "--yes", "--skip-preview")
    after = rollouts(cluster, "ws-raw")
    assert rolled(before, after) == {"rocketchat-rocketchat"}, format_rollouts(before, after)
    assert cluster.json("get", "secret", "rocketchat-settings", "-n", "ws-raw")["metadata"]["uid"] == secret_uid
    no_probe_anywhere(raw_stack)
    REPORT.append(
        "workspace (raw): a rotated secret setting rolled the monolith alone:\n" + format_rollouts(before, after)
    )
    progress.done.add("rotated")


def test_filesystem_uploads_mount_one_claim_in_every_monolith_pod(
    raw_stack: Stack, cluster: Cluster, progress: Progress
) -> None:
    progress.need("rotated")
    raw_stack.run("config", "set", "--path", "rocketchat:uploads.storage", "filesystem")
    raw_stack.run("config", "rm", "--path", "rocketchat:uploads.s3")
    raw_stack.run("config", "set", "--path", "rocketchat:monolith.replicas", "2")
    raw_stack.timed("workspace: up (filesystem uploads, 2 monolith pods)", "up", "--yes", "--skip-preview")
    claim = cluster.json("get", "persistentvolumeclaim", "rocketchat-uploads", "-n", "ws-raw")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]

    def monolith_pods() -> list[dict[str, Any]]:
        found = [
            p
            for p in cluster.items("pods", "ws-raw")
            if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "rocketchat"
            and p["status"].get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
        ]
        assert len(found) == 2, [p["metadata"]["name"] for p in found]
        return found

    pods = wait_for("two monolith pods", monolith_pods, timeout=120)
    claims = {
        p["metadata"]["name"]: [
            v["persistentVolumeClaim"]["claimName"] for v in p["spec"]["volumes"] if "persistentVolumeClaim" in v
        ]
        for p in pods
    }
    assert all(found == ["rocketchat-uploads"] for found in claims.values()), claims
    REPORT.append(f"workspace (raw): filesystem uploads: claim rocketchat-uploads (ReadWriteMany) in {claims}")
    destroy_completely(raw_stack, cluster, "ws-raw", "workspace", step="workspace: destroy (raw)")


@pytest.fixture(scope="module")
def helm_stack(pulumi: Pulumi, cluster: Cluster, chart_repo: ChartRepository) -> Iterator[Stack]:
    overrides = {"rocketchat:namespace": "ws-helm", "rocketchat:chart": {"repo": chart_repo.url}, **CONFIG}
    stack = make_stack(
        pulumi,
        cluster,
        "workspace-helm-e2e",
        "Pulumi.prod.yaml",
        overrides=overrides,
        secrets={
            "rocketchat:mongoUrl": f"mongodb://rc:{PROBES['mongoUrl']}@db.example.net:27017/rocketchat?replicaSet=rs0",
            "rocketchat:license": "e2e-licence",
        },
    )
    set_secrets(stack)
    yield stack
    stack.retire()


def test_helm_mode_configures_the_workspace_and_keeps_secrets_out_of_the_release(
    helm_stack: Stack, cluster: Cluster
) -> None:
    helm_stack.timed("workspace: up (helm)", "up", "--yes", "--skip-preview")
    shown = check_the_api(cluster, "ws-helm", "rocketchat", "helm")
    hits = no_probe_anywhere(helm_stack)
    # Replicated chart workloads spread over nodes and zones, as the API server holds them.
    spread = {}
    for deployment in cluster.items("deployments", "ws-helm"):
        terms = (
            (deployment["spec"]["template"]["spec"].get("affinity") or {})
            .get("podAntiAffinity", {})
            .get("preferredDuringSchedulingIgnoredDuringExecution", [])
        )
        if deployment["spec"]["replicas"] > 1:
            spread[deployment["metadata"]["name"]] = [t["podAffinityTerm"]["topologyKey"] for t in terms]
    assert spread and all(
        keys == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"] for keys in spread.values()
    ), spread
    stored = helm_stored_values(cluster, "ws-helm", "rocketchat")
    assert probe_hits(stored) == [], "a secret reached the Helm release's stored values"
    assert "rocketchat-settings" in stored  # the values name the Secret, and only name it
    REPORT.append(
        f"workspace (helm): monolith env {shown['monolith env']}; probes: {hits} and 0 in the release's stored values; "
        f"spread (preferred anti-affinity) of {sorted(spread)}"
    )
    destroy_completely(helm_stack, cluster, "ws-helm", "workspace", step="workspace: destroy (helm)")
