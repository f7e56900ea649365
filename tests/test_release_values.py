"""build_values: the official chart's values, built from the settings and the catalog, with no credential in them.

Most tests call the pure function directly on settings from the real Pulumi.prod.yaml; the ones about Secret names
run the real program through the recording engine, because the names only mean something if the stack creates
Secrets of those names, with those keys, in the release's namespace.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.catalog import MICROSERVICES, NATS_UID, STREAM_HUB
from components.credentials import secret_key
from components.release_values import BUNDLED_MONGODB_AUTH_KEYS, build_values
from stack_config import Settings
from tests.release_support import IN_CLUSTER_MONGODB, keys, settings_for, strings, variant
from tools.engine import PLACEHOLDER_SECRETS

BUS = secret_key("bus", "transporter")
LICENCE = secret_key("licence", "license")


def values_for(
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    *,
    bundled_nats: bool = False,
    bundled_mongodb: bool = False,
    licence: bool = True,
) -> tuple[Settings, dict[str, Any]]:
    settings = settings_for("prod", overrides, remove)
    args = settings.args
    values = build_values(
        version=args["version"],
        root_url=settings.url,
        workloads=list(settings.workloads),
        instance=settings.instance,
        mongo_secret=secret_key("db", "mongo-uri"),
        transporter_secret=None if bundled_nats else BUS,
        license_secret=LICENCE if licence else None,
        bundled_mongodb=(args.get("mongodb") or {}).get("in_cluster"),
        bundled_mongodb_auth_secret="db-auth" if bundled_mongodb else None,
        bundled_nats_replicas=(args.get("nats") or {}).get("replicas", 1),
        placement=args.get("scheduling"),
        pod_monitor=(args.get("monitoring") or {}).get("pod_monitor", False),
    )
    return settings, values


def env(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in values["extraEnv"]}


# --- what the chart deploys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("microservices", [True, False])
def test_microservices_enabled_is_always_explicit(microservices: bool) -> None:
    # values.yaml defaults it to true, the chart's README says false: the value must never be left to either.
    _, values = values_for({"rocketchat:microservices": microservices})
    assert values["microservices"]["enabled"] is microservices


def test_replicas_follow_the_prod_stack() -> None:
    _, values = values_for()
    services = values["microservices"]
    # Pulumi.prod.yaml: monolith 3, account/authorization/presence 2, 5000 users -> 10 ddp-streamers.
    assert values["replicaCount"] == 3
    assert {k: services[k]["replicas"] for k in ("account", "authorization", "presence", "ddpStreamer")} == {
        "account": 2,
        "authorization": 2,
        "presence": 2,
        "ddpStreamer": 10,
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"rocketchat:concurrentUsers": 1201}, 3),  # ceil(1201 / 500)
        ({"rocketchat:concurrentUsers": 0}, 1),
        ({"rocketchat:services": {"ddpStreamer": {"replicas": 7}}}, 7),
    ],
)
def test_ddp_streamer_replicas_are_sized_or_set(overrides: dict[str, Any], expected: int) -> None:
    _, values = values_for(overrides)
    assert values["microservices"]["ddpStreamer"]["replicas"] == expected


def test_monolith_only_sets_no_service_values() -> None:
    _, values = values_for({"rocketchat:microservices": False})
    assert values["microservices"] == {"enabled": False, "streamHub": {"enabled": False}}
    assert values["replicaCount"] == 3


@pytest.mark.parametrize(
    ("version", "services", "enabled"),
    [
        ("7.6.2", None, True),  # required before 7.7
        ("7.7.4", None, False),  # optional in 7.7.x, off by default
        ("7.7.4", {"streamHub": {"enabled": True}}, True),
        ("8.0.0", None, False),  # removed in 8.0
        ("8.6.1", None, False),
    ],
)
def test_stream_hub_is_enabled_by_version(version: str, services: dict[str, Any] | None, enabled: bool) -> None:
    overrides: dict[str, Any] = {"rocketchat:version": version}
    if services:
        overrides["rocketchat:services"] = services
    _, values = values_for(overrides)
    stream_hub = values["microservices"]["streamHub"]
    assert stream_hub["enabled"] is enabled
    if enabled:
        # Resources and a hardened context, but no replica count: the chart runs exactly one.
        assert stream_hub["resources"]["requests"] == {
            "cpu": STREAM_HUB.resources.cpu_request,
            "memory": STREAM_HUB.resources.memory_request,
        }
        assert stream_hub["securityContext"]["readOnlyRootFilesystem"] is True
        assert "replicas" not in stream_hub
    else:
        assert stream_hub == {"enabled": False}


@pytest.mark.parametrize("version", ["7.6.2", "7.7.4", "8.6.1"])
def test_image_tag_is_the_rocketchat_version(version: str) -> None:
    _, values = values_for({"rocketchat:version": version})
    # Only the tag: the chart puts it on every image, monolith and services alike.
    assert values["image"] == {"tag": version}


def test_resources_come_from_the_stack_and_the_catalog() -> None:
    _, values = values_for()
    # Pulumi.prod.yaml sets the monolith's; the services keep the catalog's defaults.
    assert values["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}
    for workload in MICROSERVICES:
        if workload.key == STREAM_HUB.key:
            continue
        assert values["microservices"][workload.key]["resources"] == {
            "requests": {"cpu": workload.resources.cpu_request, "memory": workload.resources.memory_request},
            "limits": {"memory": workload.resources.memory_limit},
        }


def test_the_charts_ingress_is_off_and_root_url_follows_tls() -> None:
    _, values = values_for()
    assert values["ingress"] == {"enabled": False}
    # No `host`: the chart would make ROOT_URL https:// whatever the TLS config says.
    assert "host" not in values
    assert env(values)["ROOT_URL"] == {"name": "ROOT_URL", "value": "https://chat.example.com"}

    _, plain_http = values_for({"rocketchat:ingress": {"className": "nginx"}})  # prod without TLS
    assert env(plain_http)["ROOT_URL"]["value"] == "http://chat.example.com"


def test_prometheus_scraping_is_on_and_pod_monitor_follows_config() -> None:
    _, values = values_for()
    assert values["prometheusScraping"] == {"enabled": True, "port": 9100, "msPort": 9458}
    assert values["podMonitor"] == {"enabled": False}
    _, monitored = values_for({"rocketchat:monitoring": {"podMonitor": True}})
    assert monitored["podMonitor"] == {"enabled": True}


# --- security contexts and placement, in the keys the chart reads -----------------------------------------------


def test_security_contexts_use_the_keys_the_chart_reads() -> None:
    _, values = values_for()
    # Monolith: pod-level `securityContext`, container-level `containerSecurityContext` (there is no
    # `podSecurityContext` key in this chart). Services: `microservices.<svc>.securityContext` is the CONTAINER's,
    # and their pod context is hard-coded empty, so it must carry the whole restricted profile itself.
    assert "podSecurityContext" not in values
    pod = values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 65533 and pod["fsGroup"] == 65533
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    restricted_container = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for context in [values["containerSecurityContext"]] + [
        values["microservices"][k]["securityContext"] for k in ("account", "authorization", "presence", "ddpStreamer")
    ]:
        assert restricted_container.items() <= context.items()
    # camelCase all the way down: a snake_case key would be ignored by Kubernetes.
    assert not [k for k in keys(values) if "_" in k]


def test_read_only_root_gets_a_writable_tmp_in_the_services_only() -> None:
    """The chart's monolith has its own `tmp` at /tmp; the services get one through the chart's extra volumes, guarded
    so that the monolith's Deployment does not get a second (tests/test_release_chart.py renders both)."""
    _, values = values_for()
    guard = '{{- if not (hasSuffix "templates/chat-deployment.yaml" .Template.Name) }}'
    # What follows is the monolith's own Apps-Engine volume from 8.5 (tests/test_version_table.py).
    assert values["extraVolumes"].splitlines()[:5] == [
        guard,
        '- name: "tmp"',
        "  emptyDir:",
        '    sizeLimit: "1Gi"',
        "{{- end }}",
    ]
    assert values["extraVolumeMounts"].splitlines()[:4] == [guard, '- name: "tmp"', '  mountPath: "/tmp"', "{{- end }}"]


def test_tolerations_and_node_selector_only_when_set() -> None:
    _, values = values_for()
    assert "tolerations" not in set(keys(values)) and "nodeSelector" not in set(keys(values))

    scheduling = {
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "chat", "effect": "NoSchedule"}],
        "nodeSelector": {"pool": "chat"},
    }
    _, placed = values_for(
        {**IN_CLUSTER_MONGODB, "rocketchat:scheduling": scheduling},
        ("rocketchat:mongoUrl",),
        bundled_nats=True,
        bundled_mongodb=True,
    )
    expected = {"tolerations": scheduling["tolerations"], "nodeSelector": scheduling["nodeSelector"]}
    holders = [placed, placed["nats"], placed["mongodb"]] + [
        placed["microservices"][k] for k in ("account", "authorization", "presence", "ddpStreamer")
    ]
    for holder in holders:
        assert {k: holder[k] for k in expected} == expected


def test_toleration_seconds_reach_the_chart_under_their_kubernetes_name() -> None:
    """`tolerationSeconds` (how long pods stay on a node that goes unreachable) keeps its name on the way through;
    under any other key Kubernetes would drop it and evict the pods at once."""
    toleration = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    toleration["tolerationSeconds"] = 30
    _, values = values_for({"rocketchat:scheduling": {"tolerations": [toleration]}})
    assert values["tolerations"] == [toleration]
    assert values["microservices"]["ddpStreamer"]["tolerations"] == [toleration]


# --- MongoDB, NATS and the licence: Secret names only -----------------------------------------------------------


def test_external_mongodb_and_our_nats_by_secret_name() -> None:
    _, values = values_for()
    assert values["mongodb"] == {"enabled": False}
    assert values["existingMongodbSecret"] == "db"
    # `enabled: false` must be explicit, or the chart deploys its own NATS beside ours.
    assert values["nats"] == {"enabled": False, "existingSecret": {"name": "bus", "key": "transporter"}}
    assert "externalMongodbUrl" not in values


def test_bundled_nats_is_clustered_and_hardened() -> None:
    _, values = values_for({"rocketchat:nats": {"replicas": 3, "bundled": True}}, bundled_nats=True)
    nats = values["nats"]
    assert nats["enabled"] is True and "existingSecret" not in nats
    assert nats["cluster"] == {"enabled": True, "replicas": 3}
    assert nats["natsbox"] == {"enabled": False}
    for container in ("nats", "reloader", "exporter", "bootconfig"):
        assert nats[container]["securityContext"]["runAsNonRoot"] is True

    _, single = values_for({"rocketchat:nats": {"replicas": 1, "bundled": True}}, bundled_nats=True)
    assert single["nats"]["cluster"] == {"enabled": False, "replicas": 1}


def test_bundled_mongodb_reads_its_passwords_from_a_secret() -> None:
    _, values = values_for(IN_CLUSTER_MONGODB, ("rocketchat:mongoUrl",), bundled_mongodb=True)
    mongodb = values["mongodb"]
    assert mongodb["enabled"] is True and mongodb["architecture"] == "replicaset"
    assert mongodb["replicaCount"] == 3 and mongodb["replicaSetName"] == "rs0"
    assert mongodb["persistence"] == {"enabled": True, "size": "20Gi"}
    assert mongodb["auth"] == {
        "enabled": True,
        "existingSecret": "db-auth",
        "usernames": ["rocketchat"],
        "databases": ["rocketchat"],
    }
    # The rocketchat chart's default root init container would be rejected by the restricted namespace.
    assert mongodb["volumePermissions"] == {"enabled": False}
    # The URL still comes from our Secret, not from the chart building it out of values.
    assert values["existingMongodbSecret"] == "db"


def test_bundled_mongodb_takes_the_storage_class_and_resources_the_stack_sets() -> None:
    in_cluster = {"replicas": 3, "storage": "50Gi", "storageClassName": "fast-ssd"}
    in_cluster["resources"] = {"requests": {"cpu": "1"}, "limits": {"memory": "4Gi"}}
    _, values = values_for(
        {"rocketchat:mongodb": {"inCluster": in_cluster}}, ("rocketchat:mongoUrl",), bundled_mongodb=True
    )
    mongodb = values["mongodb"]
    assert mongodb["persistence"] == {"enabled": True, "size": "50Gi", "storageClass": "fast-ssd"}
    # The stack's CPU request and memory limit over the catalog's defaults (512Mi requested).
    assert mongodb["resources"] == {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"memory": "4Gi"}}


def test_a_bundled_mongodb_given_nothing_is_one_member_with_8gi() -> None:
    """RocketChatRelease used by another program, with `bundled_mongodb: {}`: the component's own defaults."""
    values = build_values(
        version="8.6.1",
        root_url="http://chat.example.com",
        workloads=list(settings_for("prod").workloads),
        instance="chat",
        mongo_secret=secret_key("db", "mongo-uri"),
        transporter_secret=BUS,
        license_secret=None,
        bundled_mongodb={},
        bundled_mongodb_auth_secret="db-auth",
    )
    mongodb = values["mongodb"]
    assert mongodb["replicaCount"] == 1
    assert mongodb["persistence"] == {"enabled": True, "size": "8Gi"}  # no storageClass: the cluster's default
    assert mongodb["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}


def test_two_bundled_nats_nodes_are_a_cluster_and_run_as_the_nats_user() -> None:
    _, values = values_for({"rocketchat:nats": {"replicas": 2, "bundled": True}}, bundled_nats=True)
    nats = values["nats"]
    assert nats["cluster"] == {"enabled": True, "replicas": 2}
    pod = nats["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (NATS_UID, NATS_UID, NATS_UID)
    for container in ("nats", "reloader", "exporter", "bootconfig"):
        context = nats[container]["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"]) == (NATS_UID, NATS_UID), container


def test_the_chart_keeps_a_monolith_pod_through_a_node_drain() -> None:
    """The chart's own PodDisruptionBudget covers the monolith (RocketChatRelease adds the services'): on, and at
    least one pod left."""
    _, values = values_for()
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}


def test_licence_comes_from_a_secret_key_ref() -> None:
    _, values = values_for()
    assert "license" not in values  # the chart would put it in the Deployment as a literal
    assert env(values)["ROCKETCHAT_LICENSE"] == {
        "name": "ROCKETCHAT_LICENSE",
        "valueFrom": {"secretKeyRef": {"name": "licence", "key": "license"}},
    }
    _, unlicensed = values_for(licence=False)
    assert "ROCKETCHAT_LICENSE" not in env(unlicensed)


def test_no_credential_in_the_values_of_build_values() -> None:
    settings, values = values_for()
    credentials = [settings.config.mongo_url.get_secret_value(), settings.config.license.get_secret_value()]
    assert credentials == [PLACEHOLDER_SECRETS["rocketchat:mongoUrl"], PLACEHOLDER_SECRETS["rocketchat:license"]]
    leaked = [s for s in strings(values) for c in [*credentials, "placeholder-password"] if c in s]
    assert leaked == []


# --- through the program: the names in the values are Secrets it creates ----------------------------------------

VARIANT_NAMES = ["prod", "monolith", "bundled-nats", "in-cluster-mongodb"]


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_release_values_hold_no_credential(name: str) -> None:
    program = variant(name)
    values = program.values  # also asserts no secret Output reached the values
    secrets = program.secrets()
    credentials = [
        *PLACEHOLDER_SECRETS.values(),
        "placeholder-password",
        *program.generated_passwords(),
        *program.rollout_keys(),
        *(v for data in secrets.values() for v in data.values()),
    ]
    # The search can find what it looks for: the generated passwords are in the Secrets' data.
    for password in program.generated_passwords():
        assert any(password in v for data in secrets.values() for v in data.values())
    assert [s for s in strings(values) for c in credentials if c in s] == []


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_secret_names_in_the_values_are_secrets_the_stack_creates(name: str) -> None:
    program = variant(name)
    values, secrets = program.values, program.secrets()
    namespace = program.release.inputs["namespace"]
    assert program.secret_namespaces() == {namespace}

    mongo_url = secrets[values["existingMongodbSecret"]]["mongo-uri"]
    if name == "in-cluster-mongodb":
        auth = secrets[values["mongodb"]["auth"]["existingSecret"]]
        assert sorted(auth) == sorted(BUNDLED_MONGODB_AUTH_KEYS)
        assert mongo_url == (
            f"mongodb://rocketchat:{auth['mongodb-passwords']}@rocketchat-mongodb-headless.{namespace}"
            ".svc.cluster.local:27017/rocketchat?replicaSet=rs0"
        )
    else:
        assert mongo_url == PLACEHOLDER_SECRETS["rocketchat:mongoUrl"]

    if name == "bundled-nats":
        assert "existingSecret" not in values["nats"]
    else:
        ref = values["nats"]["existingSecret"]
        transporter = secrets[ref["name"]][ref["key"]]
        # A monolith must get `monolith+nats://`: plain `nats://` would switch it into microservices mode.
        scheme = "monolith+nats://" if name == "monolith" else "nats://"
        assert transporter.startswith(scheme) and "@" in transporter  # authenticated

    licence = env(values)["ROCKETCHAT_LICENSE"]["valueFrom"]["secretKeyRef"]
    assert secrets[licence["name"]][licence["key"]] == PLACEHOLDER_SECRETS["rocketchat:license"]
