"""Helm mode through the real program: the one Release Pulumi.prod.yaml registers, its options and dependencies,
the PDBs the chart lacks, the monolith <-> microservices conversion, and the configs it must refuse."""

from __future__ import annotations

from typing import Any

import pytest

from components.passwords import PASSWORD_TYPE
from components.release_values import BUNDLED_MONGODB_AUTH_KEYS
from components.versions import DEFAULT_CHART_REPO, DEFAULT_CHART_VERSION
from stack_config import ConfigError
from tests.release_support import RELEASE_TYPE, prod_chart, run, variant
from tools.engine import Recording, reveal, run_program

PDB_TYPE = "kubernetes:policy/v1:PodDisruptionBudget"


def test_prod_registers_one_pinned_release_of_the_official_chart() -> None:
    program = variant("prod")
    release = program.release  # exactly one
    inputs = reveal(release.inputs)
    assert {k: inputs[k] for k in ("chart", "version", "repositoryOpts", "name", "namespace")} == {
        "chart": "rocketchat",
        "version": DEFAULT_CHART_VERSION,
        "repositoryOpts": {"repo": "https://rocketchat.github.io/helm-charts"},
        "name": "rocketchat",
        "namespace": "rocketchat",
    }
    assert DEFAULT_CHART_REPO == "https://rocketchat.github.io/helm-charts" and DEFAULT_CHART_VERSION == "7.0.2"
    # Release options a production user expects, from Pulumi.prod.yaml (timeout 900, maxHistory 10) and defaults.
    assert {k: inputs[k] for k in ("atomic", "cleanupOnFail", "timeout", "maxHistory", "skipAwait")} == {
        "atomic": True,
        "cleanupOnFail": True,
        "timeout": 900,
        "maxHistory": 10,
        "skipAwait": False,
    }
    assert inputs["createNamespace"] is False  # the stack owns the Namespace (and its Pod Security labels)
    # Helm mode: no raw Rocket.Chat Deployments beside the chart's.
    assert program.recording.of_type("kubernetes:apps/v1:Deployment") == []


def test_release_options_follow_the_chart_config() -> None:
    chart = prod_chart(atomic=False, cleanupOnFail=False, timeout=1800, maxHistory=3, skipAwait=True)
    inputs = reveal(run("prod", {"rocketchat:chart": chart}).release.inputs)
    assert {k: inputs[k] for k in ("atomic", "cleanupOnFail", "timeout", "maxHistory", "skipAwait")} == {
        "atomic": False,
        "cleanupOnFail": False,
        "timeout": 1800,
        "maxHistory": 3,
        "skipAwait": True,
    }


def test_an_oci_repository_is_a_chart_reference() -> None:
    chart = prod_chart(repo="oci://registry.example.com/charts/")
    inputs = reveal(run("prod", {"rocketchat:chart": chart}).release.inputs)
    assert inputs["chart"] == "oci://registry.example.com/charts/rocketchat"
    assert inputs["version"] == "7.0.2" and "repositoryOpts" not in inputs


@pytest.mark.parametrize("name", ["prod", "monolith", "bundled-nats", "in-cluster-mongodb"])
def test_the_release_waits_for_the_secrets_and_nats_it_needs(name: str) -> None:
    # A Pulumi child does not inherit its component's depends_on: the Release itself must list them, or Helm's
    # pods start before the Secrets they read exist.
    program = variant(name)
    values = program.values
    needed = {values["existingMongodbSecret"]}
    if "existingSecret" in values["nats"]:
        needed.add(values["nats"]["existingSecret"]["name"])
    if values["mongodb"]["enabled"]:
        needed.add(values["mongodb"]["auth"]["existingSecret"])
    needed |= {e["valueFrom"]["secretKeyRef"]["name"] for e in values["extraEnv"] if "valueFrom" in e}
    depends = set(program.registration(RELEASE_TYPE, "rocketchat").dependencies)
    for secret in needed:
        assert program.registration("Secret", secret).urn in depends, secret
    nats_ready = program.recording.of_type("kubernetes:apps/v1:StatefulSet")
    if name == "bundled-nats":
        assert nats_ready == []
    else:
        assert program.registration("StatefulSet", "nats").urn in depends


def test_bundled_mongodb_passwords_are_generated_into_a_secret() -> None:
    program = variant("in-cluster-mongodb")
    passwords = program.recording.of_type(PASSWORD_TYPE)
    mongo = [p for p in passwords if "mongodb" in p.name]
    assert sorted(p.name for p in mongo) == sorted(f"rocketchat-{k}" for k in BUNDLED_MONGODB_AUTH_KEYS)
    assert all(p.inputs["length"] >= 32 for p in mongo)  # letters and digits only: URL-safe (components.passwords)
    auth = program.recording.one("Secret", "rocketchat-mongodb-auth")
    assert all(v.startswith("generated-") for v in reveal(auth.inputs)["stringData"].values())
    # No in-cluster MongoDB of our own beside the chart's.
    assert program.recording.of_type("rocketchat:index:MongoReplicaSet") == []


# --- PodDisruptionBudgets: the chart has one for the monolith only ---------------------------------------------


def pdbs(program: Any) -> dict[str, dict[str, Any]]:
    return {r.k8s_name: reveal(r.inputs)["spec"] for r in program.recording.of_type(PDB_TYPE) if r.name != "nats"}


def test_replicated_services_get_a_disruption_budget() -> None:
    assert pdbs(variant("prod")) == {
        f"rocketchat-{name}": {
            "maxUnavailable": 1,
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": f"rocketchat-{name}",
                    "app.kubernetes.io/instance": "rocketchat",
                }
            },
        }
        for name in ("account", "authorization", "presence", "ddp-streamer")
    }


def test_single_pod_services_and_stream_hub_get_none() -> None:
    services = {"account": {"replicas": 1}, "presence": {"replicas": 2}}
    single = run("prod", {"rocketchat:services": services, "rocketchat:version": "7.6.2"})
    names = set(pdbs(single))
    assert "rocketchat-account" not in names and "rocketchat-stream-hub" not in names
    assert "rocketchat-presence" in names
    assert pdbs(variant("monolith")) == {}  # the chart's own PDB covers the monolith


# --- the conversion path: monolith <-> microservices is an upgrade of the same release -------------------------


def test_switching_microservices_upgrades_the_same_release() -> None:
    monolith, microservices = variant("monolith"), variant("prod")
    before = monolith.registration(RELEASE_TYPE, "rocketchat")
    after = microservices.registration(RELEASE_TYPE, "rocketchat")
    # Same URN: Pulumi sees one resource, updated, not one deleted and another created.
    assert before.urn == after.urn
    assert before.urn.endswith("RocketChatRelease$kubernetes:helm.sh/v3:Release::rocketchat")

    old, new = reveal(monolith.release.inputs), reveal(microservices.release.inputs)
    # Nothing that would make the provider replace the release (name, chart, namespace...) changes; only values.
    assert {k: v for k, v in old.items() if k != "values"} == {k: v for k, v in new.items() if k != "values"}
    assert old["values"] != new["values"]
    changed = {k for k in old["values"].keys() | new["values"].keys() if old["values"].get(k) != new["values"].get(k)}
    # The monolith reads another bus URL (`monolith+nats://` alone): its rollout annotation follows, and it rolls.
    assert changed == {"microservices", "nats", "podAnnotations"}
    assert (old["values"]["microservices"]["enabled"], new["values"]["microservices"]["enabled"]) == (False, True)
    assert old["values"]["nats"]["existingSecret"] == {"name": "rocketchat-bus", "key": "monolith-transporter"}
    assert new["values"]["nats"]["existingSecret"] == {"name": "rocketchat-bus", "key": "transporter"}

    # Everything the monolith stack has survives the switch under the same URN (NATS, Secrets, Ingress...);
    # the microservices stack only adds the services' PDBs, and the patch that gives ddp-streamer the client's
    # address (HTTP_FORWARDED_COUNT, which the chart takes for its monolith alone).
    urns = {r.urn for r in monolith.registrations}
    added = {r.urn for r in microservices.registrations} - urns
    assert urns <= {r.urn for r in microservices.registrations}
    budgets = {u for u in added if PDB_TYPE in u}
    assert {u.rsplit("::", 1)[1] for u in budgets} == {
        "rocketchat-account",
        "rocketchat-authorization",
        "rocketchat-presence",
        "rocketchat-ddp-streamer",
    }
    assert [u.rsplit("::", 1)[1] for u in added - budgets] == ["rocketchat-ddp-streamer-client-address"]


# --- rejections: named keys, the stack file, nothing registered ------------------------------------------------


def rejected(overrides: dict[str, Any]) -> tuple[str, Recording]:
    recording = Recording()
    with pytest.raises(ConfigError) as caught:
        run_program("prod", overrides, recording=recording)
    return str(caught.value), recording


@pytest.mark.parametrize(
    ("release_name", "why"),
    [
        ("natschat", "contains 'nats'"),
        ("rocketchat-nats", "contains 'nats'"),
        ("r" * 54, "longer than Helm's limit of 53 characters"),
        ("Rocketchat", "is not a DNS label"),
    ],
)
def test_a_bad_release_name_is_rejected(release_name: str, why: str) -> None:
    message, recording = rejected({"rocketchat:chart": prod_chart(releaseName=release_name)})
    assert "Pulumi.prod.yaml" in message
    assert "rocketchat:chart.releaseName" in message and why in message
    assert recording.resources == []


def test_a_release_name_of_52_characters_is_accepted_for_a_monolith_beside_a_shorter_instance() -> None:
    program = run(
        "prod",
        {
            "rocketchat:chart": prod_chart(releaseName="r" * 52),
            "rocketchat:instance": "rocketchat",
            "rocketchat:microservices": False,
        },
    )
    assert program.release.inputs["name"] == "r" * 52
    assert program.values["existingMongodbSecret"] == "rocketchat-mongodb"


def test_a_release_name_of_53_characters_is_refused_for_the_ingress_backend_it_would_name() -> None:
    # Helm allows 53, but the chart cuts `<release>-rocketchat` to 63 for the monolith's Service while the Ingress
    # names it whole: 64 characters, which the API server refuses as a Service name in an Ingress backend.
    message, recording = rejected(
        {
            "rocketchat:chart": prod_chart(releaseName="r" * 53),
            "rocketchat:instance": "rocketchat",
            "rocketchat:microservices": False,
        }
    )
    assert f"names the Ingress backend Service '{'r' * 53}-rocketchat', which is not a Service name" in message
    assert recording.resources == []


def test_a_release_name_of_53_characters_cannot_also_name_the_stacks_objects() -> None:
    # The instance defaults to the release name, and `<instance>-nats-headless` (a Service) would be 67 characters:
    # the API server refuses Service names over 63 at `pulumi up`, so the program refuses the config before.
    message, recording = rejected(
        {"rocketchat:chart": prod_chart(releaseName="r" * 53), "rocketchat:microservices": False}
    )
    assert f"rocketchat:chart.releaseName: '{'r' * 53}' names the Service '{'r' * 53}-nats-headless'" in message
    assert "set rocketchat:instance" in message
    assert recording.resources == []


def test_with_microservices_a_release_name_of_33_characters_is_refused_for_the_charts_metrics_service() -> None:
    # The chart names the monolith's metrics Service `<release>-rocketchat-monolith-ms-metrics`: 31 characters more.
    assert run("prod", {"rocketchat:chart": prod_chart(releaseName="r" * 32), "rocketchat:instance": "rocketchat"})
    message, recording = rejected(
        {"rocketchat:chart": prod_chart(releaseName="r" * 33), "rocketchat:instance": "rocketchat"}
    )
    assert f"names the Service '{'r' * 33}-rocketchat-monolith-ms-metrics', which is not a Service name" in message
    assert recording.resources == []


@pytest.mark.parametrize("version", ["^7.0.0", "7.x", ">=7", "~7.0.2", "7.0", "latest"])
def test_a_chart_version_range_is_rejected(version: str) -> None:
    message, recording = rejected({"rocketchat:chart": prod_chart(version=version)})
    assert "Pulumi.prod.yaml" in message
    assert "rocketchat:chart.version" in message and "pin one such as 7.0.2" in message
    assert recording.resources == []


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        # The official chart's stream-hub line is `<=7.7.0`, not `<7.7`...
        ({"rocketchat:version": "7.7.0"}, "rocketchat:services.streamHub.enabled"),
        # ...and it applies to a monolith too, so the chart cannot render one before 7.7.1.
        ({"rocketchat:version": "7.6.2", "rocketchat:microservices": False}, "rocketchat:microservices"),
    ],
)
def test_versions_the_chart_would_refuse_are_rejected_before_helm(overrides: dict[str, Any], key: str) -> None:
    message, recording = rejected(overrides)
    assert f"{key}: the official chart" in message and "Pulumi.prod.yaml" in message
    assert recording.resources == []
    # Raw mode has no such chart rule.
    assert run("prod", {**overrides, "rocketchat:mode": "raw"}).recording.of_type(RELEASE_TYPE) == []
