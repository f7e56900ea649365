"""Rocket.Chat's own configuration as code: settings, secret settings, the first admin, mail, uploads and the CA, in
both modes; what rolls when one changes; what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stack_config import ConfigError
from tools.engine import Recording, Secret, contains_secret, reveal, run_program
from tools.plan.render import pinned_chart_dir

CA = "-----BEGIN CERTIFICATE-----\nMIIBprobe\n-----END CERTIFICATE-----\n"
PROBES = ("admin-probe-7Qx", "smtp-probe-9Zk", "oauth-probe-4Lm")
WORKSPACE: dict[str, Any] = {
    "rocketchat:settings": {"Site_Name": "Team chat", "Accounts_TwoFactorAuthentication_Enabled": False},
    "rocketchat:admin": {"username": "admin", "email": "admin@example.com", "name": "The Admin"},
    "rocketchat:adminPassword": Secret(PROBES[0]),
    "rocketchat:smtp": {"host": "smtp.example.com", "port": 465, "protocol": "smtps", "from": "chat@example.com"},
    "rocketchat:smtpPassword": Secret(PROBES[1]),
    "rocketchat:secretSettings": Secret({"Accounts_OAuth_Custom-Gitlab-secret": PROBES[2]}),
    "rocketchat:trustedCA": CA,
}
S3 = {"rocketchat:uploads": {"storage": "s3", "s3": {"bucket": "chat-files", "endpoint": "https://minio.example.com"}}}


def templates(recording: Recording) -> dict[str, dict[str, Any]]:
    """Rocket.Chat Deployments' pod templates, by name."""
    return {
        r.k8s_name: reveal(r.inputs)["spec"]["template"]
        for r in recording.of_type("Deployment")
        if r.k8s_name.startswith("rocketchat-")
    }


def env_of(template: dict[str, Any]) -> dict[str, Any]:
    (container,) = template["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.fixture(scope="module")
def raw() -> Recording:
    return run_program("dev", {**WORKSPACE, **S3})


def test_the_monolith_alone_is_given_the_settings(raw: Recording) -> None:
    found = templates(raw)
    monolith = env_of(found["rocketchat-rocketchat"])
    assert monolith["OVERWRITE_SETTING_Site_Name"] == "Team chat"
    assert monolith["OVERWRITE_SETTING_Accounts_TwoFactorAuthentication_Enabled"] == "false"
    assert monolith["OVERWRITE_SETTING_Show_Setup_Wizard"] == "completed"
    assert monolith["OVERWRITE_SETTING_SMTP_Host"] == "smtp.example.com"
    assert monolith["OVERWRITE_SETTING_SMTP_Port"] == "465"
    assert monolith["OVERWRITE_SETTING_SMTP_Protocol"] == "smtps"
    assert monolith["OVERWRITE_SETTING_FileUpload_Storage_Type"] == "AmazonS3"
    assert monolith["OVERWRITE_SETTING_FileUpload_S3_Bucket"] == "chat-files"
    assert (monolith["ADMIN_USERNAME"], monolith["ADMIN_EMAIL"], monolith["ADMIN_NAME"]) == (
        "admin",
        "admin@example.com",
        "The Admin",
    )
    for name, template in found.items():
        if name != "rocketchat-rocketchat":
            assert not [e for e in env_of(template) if e.startswith(("OVERWRITE_SETTING_Site", "ADMIN_"))], name


def test_secrets_reach_the_monolith_only_through_the_settings_secret(raw: Recording) -> None:
    monolith = env_of(templates(raw)["rocketchat-rocketchat"])
    refs = {
        name: (value["secretKeyRef"]["name"], value["secretKeyRef"]["key"])
        for name, value in monolith.items()
        if isinstance(value, dict) and "secretKeyRef" in value
    }
    assert (
        refs.items()
        >= {
            "ADMIN_PASS": ("rocketchat-settings", "admin-password"),
            "OVERWRITE_SETTING_SMTP_Password": ("rocketchat-settings", "SMTP_Password"),
            "OVERWRITE_SETTING_Accounts_OAuth_Custom-Gitlab-secret": (
                "rocketchat-settings",
                "Accounts_OAuth_Custom-Gitlab-secret",
            ),
            # Registered as secret by Rocket.Chat: kept with the secrets although given in plain keys.
            "OVERWRITE_SETTING_FileUpload_S3_BucketURL": ("rocketchat-settings", "FileUpload_S3_BucketURL"),
        }.items()
    )
    secret = raw.one("Secret", "rocketchat-settings")
    assert contains_secret(secret.inputs["stringData"])
    assert sorted(reveal(secret.inputs)["stringData"]) == [
        "Accounts_OAuth_Custom-Gitlab-secret",
        "FileUpload_S3_BucketURL",
        "SMTP_Password",
        "admin-password",
    ]


def test_no_secret_value_anywhere_but_in_the_settings_secret(raw: Recording) -> None:
    for resource in raw.resources:
        if resource.k8s_name == "rocketchat-settings":
            continue
        text = json.dumps(reveal(resource.inputs), default=str)
        assert not [p for p in PROBES if p in text], resource.k8s_name
    assert not [p for p in PROBES if p in json.dumps(raw.outputs, default=str)]
    assert not [p for p in PROBES if any(p in message for _, message in raw.logs)]


def test_the_ca_is_mounted_and_named_in_every_rocketchat_container(raw: Recording) -> None:
    config_map = reveal(raw.one("ConfigMap", "rocketchat-trusted-ca").inputs)
    assert config_map["data"] == {"ca.crt": CA}
    found = templates(raw)
    assert len(found) == 5
    for name, template in found.items():
        (container,) = template["spec"]["containers"]
        assert env_of(template)["NODE_EXTRA_CA_CERTS"] == "/etc/rocketchat/trusted-ca/ca.crt", name
        assert {"name": "trusted-ca", "mountPath": "/etc/rocketchat/trusted-ca", "readOnly": True} in container[
            "volumeMounts"
        ], name
        assert {"name": "trusted-ca", "configMap": {"name": "rocketchat-trusted-ca"}} in template["spec"]["volumes"]


def rolled(before: Recording, after: Recording) -> set[str]:
    old, new = templates(before), templates(after)
    return {name for name in new if new[name] != old[name]}


def test_a_new_secret_setting_rolls_the_monolith_alone(raw: Recording) -> None:
    rotated = run_program(
        "dev", {**WORKSPACE, **S3, "rocketchat:secretSettings": Secret({"Accounts_OAuth_Custom-Gitlab-secret": "new"})}
    )
    assert rolled(raw, rotated) == {"rocketchat-rocketchat"}
    annotations = templates(rotated)["rocketchat-rocketchat"]["metadata"]["annotations"]
    assert (
        annotations["rollout.rocketchat.chat/settings"]
        != (templates(raw)["rocketchat-rocketchat"]["metadata"]["annotations"]["rollout.rocketchat.chat/settings"])
    )


def test_a_new_ca_rolls_every_rocketchat_workload(raw: Recording) -> None:
    other = run_program("dev", {**WORKSPACE, **S3, "rocketchat:trustedCA": CA.replace("probe", "other")})
    assert rolled(raw, other) == set(templates(raw))


def test_a_removed_setting_is_no_longer_forced(raw: Recording) -> None:
    fewer = run_program("dev", {**WORKSPACE, **S3, "rocketchat:settings": {"Site_Name": "Team chat"}})
    assert "OVERWRITE_SETTING_Accounts_TwoFactorAuthentication_Enabled" not in env_of(
        templates(fewer)["rocketchat-rocketchat"]
    )
    assert rolled(raw, fewer) == {"rocketchat-rocketchat"}


def test_filesystem_uploads_are_a_claim_in_every_monolith_pod_that_outlives_the_stack() -> None:
    uploads = {"storage": "filesystem", "filesystem": {"size": "50Gi", "storageClassName": "nfs"}, "tmpSize": "2Gi"}
    recording = run_program("dev", {"rocketchat:uploads": uploads})
    claim = recording.one("PersistentVolumeClaim", "rocketchat-uploads")
    assert claim.retain_on_delete
    spec = reveal(claim.inputs)["spec"]
    assert spec["accessModes"] == ["ReadWriteMany"] and spec["resources"]["requests"]["storage"] == "50Gi"
    pod = templates(recording)["rocketchat-rocketchat"]["spec"]
    assert {"name": "uploads", "persistentVolumeClaim": {"claimName": "rocketchat-uploads"}} in pod["volumes"]
    assert {"name": "scratch-0", "emptyDir": {"sizeLimit": "2Gi"}} in pod["volumes"]
    assert {"name": "uploads", "mountPath": "/app/uploads"} in pod["containers"][0]["volumeMounts"]
    assert env_of(templates(recording)["rocketchat-rocketchat"])["OVERWRITE_SETTING_FileUpload_Storage_Type"] == (
        "FileSystem"
    )


def test_helm_mode_gives_the_chart_names_not_values() -> None:
    recording = run_program("prod", {**WORKSPACE, "rocketchat:uploads": {"storage": "filesystem"}})
    release = recording.one("Release", "rocketchat")
    values = reveal(release.inputs)["values"]
    text = json.dumps(values)
    assert not [p for p in PROBES if p in text]
    extra = {e["name"]: e.get("value", e.get("valueFrom")) for e in values["extraEnv"]}
    assert extra["ADMIN_PASS"] == {"secretKeyRef": {"name": "rocketchat-settings", "key": "admin-password"}}
    assert extra["OVERWRITE_SETTING_Site_Name"] == "Team chat"
    assert extra["NODE_EXTRA_CA_CERTS"] == "/etc/rocketchat/trusted-ca/ca.crt"
    assert values["persistence"] == {"enabled": True, "existingClaim": "rocketchat-uploads"}
    assert "rollout.rocketchat.chat/settings" in values["podAnnotations"]
    assert values["microservices"]["ddpStreamer"]["annotations"]["rollout.rocketchat.chat/trusted-ca"]
    assert any("takes extra environment for the monolith only" in m for _, m in recording.logs)


@pytest.mark.skipif(pinned_chart_dir() is None, reason="the pinned chart is not fetched (scripts/fetch-chart)")
def test_the_chart_mounts_the_ca_in_every_rocketchat_container() -> None:
    from tools.plan.render import render_stack

    rendered = render_stack("prod", {"rocketchat:trustedCA": CA}, chart_dir=pinned_chart_dir())
    deployments = [
        o.document for o in rendered.objects if o.source.startswith("chart:") and o.document["kind"] == "Deployment"
    ]
    assert len(deployments) == 5
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert {"name": "trusted-ca", "mountPath": "/etc/rocketchat/trusted-ca", "readOnly": True} in container[
            "volumeMounts"
        ], deployment["metadata"]["name"]
        assert {"name": "trusted-ca", "configMap": {"name": "rocketchat-trusted-ca"}} in spec["volumes"]


def refused(overrides: dict[str, Any], stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as error:
        run_program(stack, overrides)
    return error.value.problems


@pytest.mark.parametrize(
    ("overrides", "starts"),
    [
        ({"rocketchat:admin": {"username": "admin", "email": "a@example.com"}}, "rocketchat:adminPassword: required"),
        ({"rocketchat:adminPassword": Secret("x")}, "rocketchat:admin: required with rocketchat:adminPassword"),
        ({"rocketchat:adminPassword": "in-plain-text", "rocketchat:admin": {"username": "a", "email": "a@b.example"}},
         "rocketchat:adminPassword: must be stored encrypted; run `pulumi config set --secret --stack dev"),
        ({"rocketchat:secretSettings": {"LDAP_Authentication_Password": "plain"}},
         ("rocketchat:secretSettings: must be stored encrypted; run `pulumi config set --secret --stack dev --path "
          "'rocketchat:secretSettings.<setting id>' '...'`")),
        ({"rocketchat:smtpPassword": Secret("x")}, "rocketchat:smtp: required with rocketchat:smtpPassword"),
        ({"rocketchat:uploads": {"storage": "s3"}}, "rocketchat:uploads.s3: required with storage 's3'"),
        ({"rocketchat:uploads": {"s3": {"bucket": "files"}}}, "rocketchat:uploads.s3: has no effect unless"),
        ({"rocketchat:uploads": {"tmpSize": "64Mi"}}, "rocketchat:uploads.tmpSize: 64Mi is less than one upload"),
        ({"rocketchat:settings": {"Prometheus_Port": 9100}}, "rocketchat:settings.Prometheus_Port: set by the stack"),
        ({"rocketchat:smtp": {"host": "smtp.example.com"}, "rocketchat:settings": {"SMTP_Host": "other"}},
         "rocketchat:settings.SMTP_Host: set by rocketchat:smtp"),
        ({"rocketchat:trustedCA": "not a certificate"}, "rocketchat:trustedCA: expected PEM certificates"),
    ],
)  # fmt: skip
def test_what_cannot_work_is_refused_naming_its_key(overrides: dict[str, Any], starts: str) -> None:
    problems = refused(overrides)
    assert any(p.startswith(starts) for p in problems), problems
    assert not [p for p in problems if "in-plain-text" in p]


def test_a_single_node_uploads_volume_for_several_monolith_pods_is_refused() -> None:
    uploads = {"storage": "filesystem", "filesystem": {"accessMode": "ReadWriteOnce"}}
    (problem,) = refused({"rocketchat:uploads": uploads, "rocketchat:monolith": {"replicas": 2}})
    assert problem.startswith(
        "rocketchat:uploads.filesystem.accessMode: ReadWriteOnce mounts on one node only, and the monolith runs 2 pods"
    )
    assert run_program("dev", {"rocketchat:uploads": uploads}).one("PersistentVolumeClaim", "rocketchat-uploads")


def test_gridfs_at_production_size_warns() -> None:
    recording = run_program("prod", {"rocketchat:uploads": {}})
    assert any(m.startswith("rocketchat:uploads.storage is GridFS") for _, m in recording.logs)
    assert not any("GridFS" in m for _, m in run_program("prod").logs)  # the stack file keeps its files in S3
