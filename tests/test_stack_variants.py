"""Config changes on the real stack files change the resources as the rules say."""

from __future__ import annotations

import pytest

from stack_config import ConfigError
from tests.conftest import container, deployments, env, secret_ref
from tools.engine import Recording, Secret, reveal, run_program


def replicas(recording: Recording) -> dict[str, int]:
    return {name: reveal(d.inputs)["spec"]["replicas"] for name, d in deployments(recording).items()}


def test_host_change_moves_root_url_ingress_and_outputs() -> None:
    recording = run_program("dev", {"rocketchat:host": "team.example.org"})
    assert env(deployments(recording)["rocketchat-rocketchat"])["ROOT_URL"]["value"] == "http://team.example.org"
    assert reveal(recording.one("Ingress", "rocketchat").inputs)["spec"]["rules"][0]["host"] == "team.example.org"
    assert recording.outputs["url"] == "http://team.example.org"
    assert recording.outputs["host"] == "team.example.org"


def test_concurrent_users_size_ddp_streamer() -> None:
    recording = run_program("dev", {"rocketchat:concurrentUsers": 1200})
    assert replicas(recording)["rocketchat-ddp-streamer"] == 3
    assert recording.outputs["replicas"]["ddp-streamer"] == 3


def test_per_service_replicas_and_their_disruption_budgets() -> None:
    recording = run_program(
        "dev",
        {
            "rocketchat:monolith": {"replicas": 2},
            "rocketchat:services": {"presence": {"replicas": 3}, "ddpStreamer": {"replicas": 2}},
            "rocketchat:license": Secret("licence-text"),
        },
    )
    assert replicas(recording) == {
        "rocketchat-rocketchat": 2,
        "rocketchat-account": 1,
        "rocketchat-authorization": 1,
        "rocketchat-presence": 3,
        "rocketchat-ddp-streamer": 2,
    }
    budgets = {r.k8s_name: reveal(r.inputs)["spec"] for r in recording.of_type("PodDisruptionBudget")}
    assert set(budgets) == {"rocketchat-rocketchat", "rocketchat-presence", "rocketchat-ddp-streamer"}
    assert budgets["rocketchat-presence"]["maxUnavailable"] == 1
    assert budgets["rocketchat-presence"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "presence"


def test_ddp_streamer_rollouts_never_drop_below_capacity(dev) -> None:
    strategy = reveal(deployments(dev)["rocketchat-ddp-streamer"].inputs)["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_version_7_6_runs_one_stream_hub_with_recreate() -> None:
    recording = run_program("dev", {"rocketchat:version": "7.6.5"})
    hub = deployments(recording)["rocketchat-stream-hub"]
    spec = reveal(hub.inputs)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert container(hub)["image"] == "docker.io/rocketchat/stream-hub-service:7.6.5"
    assert secret_ref(hub, "TRANSPORTER") == ("rocketchat-bus", "transporter")
    assert recording.outputs["replicas"]["stream-hub"] == 1


def test_version_7_7_has_no_stream_hub_unless_enabled() -> None:
    assert "rocketchat-stream-hub" not in deployments(run_program("dev", {"rocketchat:version": "7.7.2"}))
    enabled = run_program(
        "dev", {"rocketchat:version": "7.7.2", "rocketchat:services": {"streamHub": {"enabled": True}}}
    )
    assert "rocketchat-stream-hub" in deployments(enabled)


def test_version_8_has_no_stream_hub(dev) -> None:
    assert "rocketchat-stream-hub" not in deployments(dev)


def test_monolith_mode_deploys_the_monolith_alone_clustered_over_nats() -> None:
    recording = run_program("dev", {"rocketchat:microservices": False})
    assert list(deployments(recording)) == ["rocketchat-rocketchat"]
    monolith = deployments(recording)["rocketchat-rocketchat"]
    # `nats://` would switch Rocket.Chat into microservices mode; `monolith+nats://` only clusters the monoliths.
    assert secret_ref(monolith, "TRANSPORTER") == ("rocketchat-bus", "monolith-transporter")
    transporter = reveal(recording.one("kubernetes:core/v1:Secret", "rocketchat-bus").inputs)["stringData"]
    assert transporter["monolith-transporter"].startswith("monolith+nats://rocketchat:")
    paths = reveal(recording.one("Ingress", "rocketchat").inputs)["spec"]["rules"][0]["http"]["paths"]
    assert [(p["path"], p["backend"]["service"]["name"]) for p in paths] == [("/", "rocketchat-rocketchat")]
    assert not [s for s in recording.of_type("kubernetes:core/v1:Service") if s.k8s_name == "rocketchat-ddp-streamer"]


def test_tls_from_a_secret_and_cert_manager() -> None:
    recording = run_program(
        "dev", {"rocketchat:ingress": {"tls": {"secretName": "chat-tls", "clusterIssuer": "letsencrypt"}}}
    )
    ingress = reveal(recording.one("Ingress", "rocketchat").inputs)
    assert ingress["spec"]["tls"] == [{"hosts": ["chat.dev.example.com"], "secretName": "chat-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert recording.outputs["url"] == "https://chat.dev.example.com"
    issuer_only = run_program("dev", {"rocketchat:ingress": {"tls": {"clusterIssuer": "letsencrypt"}}})
    assert reveal(issuer_only.one("Ingress", "rocketchat").inputs)["spec"]["tls"][0]["secretName"] == "rocketchat-tls"


def test_external_dns_annotations_with_a_configurable_prefix() -> None:
    recording = run_program(
        "dev",
        {"rocketchat:dns": {"externalDns": True, "ttl": 120, "annotationPrefix": "external-dns.kubernetes.io/"}},
    )
    annotations = reveal(recording.one("Ingress", "rocketchat").inputs)["metadata"]["annotations"]
    assert annotations["external-dns.kubernetes.io/hostname"] == "chat.dev.example.com"
    assert annotations["external-dns.kubernetes.io/ttl"] == "120"
    assert "external-dns.alpha.kubernetes.io/hostname" not in annotations


def test_user_annotations_override_defaults_and_skip_await_is_opt_in(dev) -> None:
    assert "pulumi.com/skipAwait" not in reveal(dev.one("Ingress", "rocketchat").inputs)["metadata"]["annotations"]
    recording = run_program(
        "dev",
        {
            "rocketchat:ingress": {
                "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "7200"},
                "skipAwait": True,
            }
        },
    )
    annotations = reveal(recording.one("Ingress", "rocketchat").inputs)["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "7200"
    assert annotations["pulumi.com/skipAwait"] == "true"


def test_prod_as_raw_reads_the_licence_and_external_mongo_from_secrets(prod_raw) -> None:
    monolith = deployments(prod_raw)["rocketchat-rocketchat"]
    assert secret_ref(monolith, "ROCKETCHAT_LICENSE") == ("rocketchat-license", "license")
    assert secret_ref(monolith, "MONGO_URL") == ("rocketchat-mongodb", "mongo-uri")
    assert [s.k8s_name for s in prod_raw.of_type("StatefulSet")] == ["rocketchat-nats"]  # no in-cluster MongoDB
    assert replicas(prod_raw)["rocketchat-ddp-streamer"] == 10
    assert replicas(prod_raw)["rocketchat-rocketchat"] == 3


def test_three_nats_nodes_route_to_each_other_with_a_disruption_budget(prod_raw) -> None:
    secret = prod_raw.one("kubernetes:core/v1:Secret", "rocketchat-nats-config")
    config = reveal(secret.inputs)["stringData"]["nats.conf"]
    for i in range(3):
        assert f"@rocketchat-nats-{i}.rocketchat-nats-headless.rocketchat.svc.cluster.local:6222" in config
    assert 'user: "route"' in config
    budget = reveal(prod_raw.one("PodDisruptionBudget", "rocketchat-nats").inputs)["spec"]
    assert budget["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"rocketchat:services": {"ddpStreamer": {"replicas": 0}}}, "rocketchat:services.ddpStreamer.replicas"),
        ({"rocketchat:replcias": 3}, "rocketchat:replcias"),
        ({"rocketchat:version": "latest"}, "rocketchat:version"),
    ],
)
def test_bad_values_are_rejected_naming_the_key_before_anything_is_registered(overrides, key) -> None:
    recording = Recording()
    with pytest.raises(ConfigError) as caught:
        run_program("dev", overrides, recording=recording)
    assert any(p.startswith(f"{key}: ") for p in caught.value.problems)
    assert "Pulumi.dev.yaml" in str(caught.value)
    assert recording.resources == []


# --- namespaces ----------------------------------------------------------------------------------------------------


def test_a_namespace_someone_else_owns_gets_everything_and_no_namespace_object() -> None:
    recording = run_program("dev", {"rocketchat:namespace": "default", "rocketchat:createNamespace": False})
    assert recording.of_type("Namespace") == []
    kinds = {r.kind for r in recording.resources if r.type.startswith("kubernetes:")}
    assert {"Deployment", "StatefulSet", "Service", "Secret", "Ingress", "NetworkPolicy"} <= kinds
    namespaces = {
        reveal(r.inputs)["metadata"].get("namespace") for r in recording.resources if r.type.startswith("kubernetes:")
    }
    assert namespaces == {"default"}
    assert recording.outputs["namespace"] == "default"
    [warning] = [m for level, m in recording.logs if "createNamespace" in m]
    assert "namespace default must exist before `pulumi up`" in warning
    assert "Pod Security labels are theirs to set" in warning


def test_a_created_namespace_is_labelled_restricted(dev) -> None:
    [namespace] = dev.of_type("Namespace")
    labels = reveal(namespace.inputs)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert not [m for _, m in dev.logs if "createNamespace" in m]


def test_a_given_namespace_keeps_the_helm_stack_whole() -> None:
    recording = run_program("prod", {"rocketchat:namespace": "chat-team", "rocketchat:createNamespace": False})
    assert recording.of_type("Namespace") == []
    [release] = recording.of_type("Release")
    assert reveal(release.inputs)["namespace"] == "chat-team"
    assert reveal(release.inputs)["createNamespace"] is False
