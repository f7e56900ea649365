"""Moving a live stack between raw and helm mode, or to another chart release: what one `pulumi up` can do safely
(both sets of pods side by side, the stack's own objects untouched) and what the program refuses before anything
happens, reading what the stack's last update left (components/deployed.py).

The recording engine answers the program's reads of its own stack from an earlier run's recording, in the shape the
real engine gives them; tests/e2e runs the same switches on a real API server.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.inventory import HELM_RELEASE, ObjectRef
from components.k8s import INSTANCE_POD_LABEL
from stack_config import ConfigError, deployed
from stack_config.deployed import Deployed, InClusterDatabase, deployed_from
from tools.engine import Recording, reveal, run_program

RAW = {"rocketchat:mode": "raw"}
CHART_RELEASE = {"rocketchat:chart": {"version": "7.0.2", "releaseName": "rocketchat-chart"}}
KEEP_INSTANCE = {"rocketchat:instance": "rocketchat"}


def refused(overrides: dict[str, Any], deployed: Recording, stack: str = "prod") -> list[str]:
    recording = Recording()
    with pytest.raises(ConfigError) as caught:
        run_program(stack, overrides, recording=recording, deployed=deployed)
    assert recording.resources == [], "nothing is registered when a switch is refused"
    return caught.value.problems


def urns(recording: Recording, kinds: tuple[str, ...]) -> set[str]:
    return {r.urn for r in recording.resources if r.kind in kinds}


def inputs_by_urn(recording: Recording) -> dict[str, dict[str, Any]]:
    return {r.urn: r.inputs for r in recording.resources}


OWN_KINDS = ("NatsCluster", "StatefulSet", "Secret", "NetworkPolicy", "Ingress", "GeneratedPassword", "Namespace")


def k8s_names(recording: Recording, kind: str) -> set[str]:
    return {r.k8s_name for r in recording.of_type(kind)}


# --- what the program reads back ---------------------------------------------------------------------------------


def test_a_new_stack_has_nothing_deployed_and_anything_goes(prod: Recording) -> None:
    assert run_program("prod", deployed=None).resources == prod.resources


def test_the_last_deployment_is_read_as_the_engine_keeps_it(
    prod: Recording, prod_raw: Recording, dev: Recording
) -> None:
    def as_engine_gives(r: Recording) -> tuple[dict, dict]:
        return r.outputs, {x.urn: {"type": x.type, "outputs": x.outputs} for x in r.resources}

    # Every object the state holds, in its namespace (the Namespace itself is cluster-wide).
    both = {
        "Namespace": ["rocketchat"],
        "StatefulSet": ["rocketchat-nats"],
        "Service": ["rocketchat-nats", "rocketchat-nats-headless"],
        "Secret": ["rocketchat-nats-config", "rocketchat-bus", "rocketchat-mongodb", "rocketchat-license"],
        "PodDisruptionBudget": ["rocketchat-nats", *(f"rocketchat-{s}" for s in SERVICES)],
        "NetworkPolicy": [f"rocketchat-{p}" for p in ("default-deny-ingress", "web", "metrics", "nats")],
        "Ingress": ["rocketchat"],
    }
    helm = {HELM_RELEASE: ["rocketchat"]}
    raw = {
        "Deployment": [f"rocketchat-{w}" for w in ("rocketchat", *SERVICES)],
        "PodDisruptionBudget": ["rocketchat-rocketchat"],
        "Service": ["rocketchat-rocketchat", "rocketchat-ddp-streamer"],
    }
    assert deployed_from(*as_engine_gives(prod)) == Deployed(
        "helm",
        "rocketchat",
        "rocketchat",
        namespace="rocketchat",
        namespace_created=True,
        database=None,
        legacy_names=False,
        objects=object_refs("rocketchat", both, helm),
    )
    assert deployed_from(*as_engine_gives(prod_raw)) == Deployed(
        "raw",
        "rocketchat",
        None,
        namespace="rocketchat",
        namespace_created=True,
        database=None,
        legacy_names=False,
        objects=object_refs("rocketchat", both, raw),
    )
    # dev: its in-cluster MongoDB (where its data lives), no PodDisruptionBudget below two pods, no licence.
    assert deployed_from(*as_engine_gives(dev)) == Deployed(
        "raw",
        "rocketchat",
        None,
        namespace="rocketchat-dev",
        namespace_created=True,
        database=InClusterDatabase("rocketchat-dev", "rocketchat-mongodb", 1, "8Gi", None),
        legacy_names=False,
        objects=object_refs(
            "rocketchat-dev",
            {
                "Namespace": ["rocketchat-dev"],
                "StatefulSet": ["rocketchat-nats", "rocketchat-mongodb"],
                "Service": ["rocketchat-nats", "rocketchat-nats-headless", "rocketchat-mongodb-headless"],
                "Secret": ["rocketchat-nats-config", "rocketchat-bus", "rocketchat-mongodb"],
                "NetworkPolicy": [
                    f"rocketchat-{p}" for p in ("default-deny-ingress", "web", "metrics", "nats", "mongodb")
                ],
                "Ingress": ["rocketchat"],
            },
            {**raw, "PodDisruptionBudget": []},
        ),
    )
    # Deployments from before the stack component recorded its instance: the rule of that time.
    old_helm = {"urn:r": {"type": "kubernetes:helm.sh/v3:Release", "outputs": {"name": "chat"}}}
    assert deployed_from({"mode": "helm"}, old_helm) == Deployed(
        "helm", "chat", "chat", objects=frozenset({ObjectRef(HELM_RELEASE, None, "chat")})
    )
    assert deployed_from({"mode": "raw"}, {}) == Deployed("raw", "rocketchat", None)
    assert deployed_from({}, {}) is None
    # Deployments from before the instance named NATS: its StatefulSet is `nats`.
    old_nats = {
        "urn:pulumi:prod::rocketchat::rocketchat:index:RocketChatStack$rocketchat:index:NatsCluster"
        "$kubernetes:apps/v1:StatefulSet::nats": {
            "type": "kubernetes:apps/v1:StatefulSet",
            "outputs": {"metadata": {"name": "nats", "namespace": "rocketchat"}},
        }
    }
    assert deployed_from({"mode": "raw", "namespace": "rocketchat"}, old_nats) == Deployed(
        "raw",
        "rocketchat",
        None,
        namespace="rocketchat",
        legacy_names=True,
        objects=frozenset({ObjectRef("StatefulSet", "rocketchat", "nats")}),
    )
    # ... or its in-cluster MongoDB's, `mongodb`: the database is read where it is.
    old_mongo = {
        "urn:pulumi:dev::rocketchat::rocketchat:index:RocketChatStack$rocketchat:index:MongoReplicaSet"
        "$kubernetes:apps/v1:StatefulSet::mongodb": {
            "type": "kubernetes:apps/v1:StatefulSet",
            "outputs": {
                "metadata": {"name": "mongodb", "namespace": "rocketchat-dev"},
                "spec": {
                    "replicas": 3,
                    "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "20Gi"}}}}],
                },
            },
        }
    }
    assert deployed_from({"mode": "raw", "namespace": "rocketchat-dev"}, old_mongo) == Deployed(
        "raw",
        "rocketchat",
        None,
        namespace="rocketchat-dev",
        database=InClusterDatabase("rocketchat-dev", "mongodb", 3, "20Gi", None),
        legacy_names=True,
        objects=frozenset({ObjectRef("StatefulSet", "rocketchat-dev", "mongodb")}),
    )


SERVICES = ("account", "authorization", "presence", "ddp-streamer")


def object_refs(namespace: str, *by_kind: dict[str, list[str]]) -> frozenset[ObjectRef]:
    return frozenset(
        ObjectRef(kind, None if kind == "Namespace" else namespace, name)
        for kinds in by_kind
        for kind, names in kinds.items()
        for name in names
    )


def test_reads_made_while_the_backend_saves_the_checkpoint_are_made_again(prod_raw: Recording) -> None:
    """The update's first save of the checkpoint races the program's first read of it (the file backend answers
    `failed to load checkpoint: EOF` meanwhile): the program reads again and still refuses what it must."""
    again = run_program("prod", RAW, deployed=prod_raw, busy_checkpoint_reads=3)
    assert inputs_by_urn(again) == inputs_by_urn(prod_raw)
    with pytest.raises(ConfigError) as caught:
        run_program("prod", deployed=prod_raw, busy_checkpoint_reads=2)
    assert caught.value.problems[0].startswith("rocketchat:chart.releaseName:")


def test_a_backend_that_stays_busy_fails_the_run_before_anything_is_registered(
    prod_raw: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deployed, "READ_PAUSES", (0.0,) * len(deployed.READ_PAUSES))
    recording = Recording()
    with pytest.raises(RuntimeError, match=r"still saving its checkpoint after 8 reads .*failed to load checkpoint"):
        run_program("prod", RAW, recording=recording, deployed=prod_raw, busy_checkpoint_reads=8)
    assert recording.resources == []
    # One read fewer of a busy backend: the last read finds the state.
    last_read = run_program("prod", RAW, deployed=prod_raw, busy_checkpoint_reads=7)
    assert inputs_by_urn(last_read) == inputs_by_urn(prod_raw)


def test_a_raw_stack_with_a_release_name_it_does_not_use_updates_as_before(prod_raw: Recording) -> None:
    """Raw mode ignores the chart settings (and warns): a releaseName left there renames nothing and is not refused
    as a change of the stack's instance."""
    again = run_program("prod", RAW | CHART_RELEASE, deployed=prod_raw)
    assert urns(again, OWN_KINDS) == urns(prod_raw, OWN_KINDS)
    assert ("warn", "rocketchat:chart is ignored in raw mode") in again.logs


def test_a_refused_switch_is_reported_with_the_configs_other_problems(prod_raw: Recording) -> None:
    """Every problem at once: the collision with what runs does not hide a mistake elsewhere in the stack file."""
    autoscaled = {"rocketchat:services": {"account": {"autoscaling": {"maxReplicas": 3}}}}
    problems = refused(autoscaled, deployed=prod_raw)
    assert [p.split(":", 2)[1].split(" ")[0] for p in problems] == ["services.account.autoscaling", "chart.releaseName"]


# --- raw -> helm ---------------------------------------------------------------------------------------------------


def test_raw_to_helm_under_the_same_names_is_refused_with_the_way_that_works(prod_raw: Recording) -> None:
    [problem] = refused({}, deployed=prod_raw)
    assert problem.startswith("rocketchat:chart.releaseName: the chart names its objects 'rocketchat-<workload>'")
    assert "`pulumi config set --path rocketchat:chart.releaseName rocketchat-chart`" in problem
    assert "`pulumi config set rocketchat:instance rocketchat`" in problem


def test_raw_to_helm_under_another_release_keeps_the_stacks_own_objects(prod_raw: Recording) -> None:
    helm = run_program("prod", CHART_RELEASE | KEEP_INSTANCE, deployed=prod_raw)
    # NATS, its credentials, the Secrets, the policies, the Ingress: the same resources, so nothing to replace.
    assert urns(helm, OWN_KINDS) >= urns(prod_raw, OWN_KINDS) - urns(prod_raw, ("Deployment",))
    for kind in ("StatefulSet", "Secret", "NetworkPolicy", "Ingress"):
        assert k8s_names(helm, kind) == k8s_names(prod_raw, kind), kind
    # The policies do not even change: both modes' pods carry the instance label they select on.
    policies = lambda r: {p.k8s_name: reveal(p.inputs) for p in r.of_type("NetworkPolicy")}  # noqa: E731
    assert policies(helm) == policies(prod_raw)
    # The chart's objects are named after the new release, beside the raw ones (which go at the end of the update).
    [release] = helm.of_type("Release")
    assert reveal(release.inputs)["name"] == "rocketchat-chart"
    assert reveal(release.inputs)["values"]["podLabels"] == {INSTANCE_POD_LABEL: "rocketchat"}
    raw_deployments = k8s_names(prod_raw, "Deployment")
    chart_names = {
        f"rocketchat-chart-{w}" for w in ("rocketchat", "account", "authorization", "presence", "ddp-streamer")
    }
    assert raw_deployments and not raw_deployments & chart_names
    ingress = reveal(helm.one("Ingress", "rocketchat").inputs)
    backends = {p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert backends == {"rocketchat-chart-rocketchat", "rocketchat-chart-ddp-streamer"}


def test_raw_to_helm_under_another_release_without_keeping_the_instance_is_refused(prod_raw: Recording) -> None:
    [problem] = refused(CHART_RELEASE, deployed=prod_raw)
    assert problem.startswith("rocketchat:instance: this stack's own objects")
    assert "'rocketchat-chart' would delete and recreate them, the NATS cluster with them" in problem
    assert problem.endswith("`pulumi config set rocketchat:instance rocketchat`")


# --- helm -> raw, and moving a release -----------------------------------------------------------------------------


def test_helm_to_raw_under_the_same_names_is_refused_with_two_updates_that_work(prod: Recording) -> None:
    [problem] = refused(RAW, deployed=prod)
    assert problem.startswith("rocketchat:mode: this stack runs the chart's release 'rocketchat'")
    assert "`pulumi config set --path rocketchat:chart.releaseName rocketchat-chart`" in problem
    assert problem.endswith("then `pulumi config set rocketchat:mode raw` and `pulumi up`")


def test_the_two_updates_of_helm_to_raw_are_each_accepted(prod: Recording) -> None:
    moved = run_program("prod", CHART_RELEASE | KEEP_INSTANCE, deployed=prod)
    assert {reveal(r.inputs)["name"] for r in moved.of_type("Release")} == {"rocketchat-chart"}
    assert urns(moved, ("StatefulSet", "Secret", "NetworkPolicy", "Ingress")) == urns(
        prod, ("StatefulSet", "Secret", "NetworkPolicy", "Ingress")
    )
    raw = run_program("prod", RAW | CHART_RELEASE | KEEP_INSTANCE, deployed=moved)
    assert k8s_names(raw, "Deployment") == {
        f"rocketchat-{w}" for w in ("rocketchat", "account", "authorization", "presence", "ddp-streamer")
    }
    assert urns(raw, ("StatefulSet", "Secret", "NetworkPolicy", "Ingress")) == urns(
        moved, ("StatefulSet", "Secret", "NetworkPolicy", "Ingress")
    )


def test_renaming_the_release_alone_must_keep_the_instance(prod: Recording) -> None:
    [problem] = refused(CHART_RELEASE, deployed=prod)
    assert problem.startswith("rocketchat:instance:")


def test_a_switch_with_an_in_cluster_database_is_refused(dev: Recording) -> None:
    [problem] = refused({"rocketchat:mode": "helm"}, deployed=dev, stack="dev")
    assert problem.startswith("rocketchat:mode: this stack runs in raw mode with an in-cluster MongoDB")
    assert "empty database" in problem


def test_unchanged_stacks_and_ordinary_changes_are_not_refused(dev: Recording, prod: Recording) -> None:
    assert run_program("dev", deployed=dev).resources
    assert run_program("prod", {"rocketchat:microservices": False}, deployed=prod).resources
    assert run_program("prod", {"rocketchat:version": "8.7.0"}, deployed=prod).resources


# --- every Rocket.Chat pod carries the label the policies select on -----------------------------------------------


def test_every_raw_rocketchat_pod_carries_the_instance_label(prod_raw: Recording) -> None:
    deployments = prod_raw.of_type("Deployment")
    assert len(deployments) == 5
    for deployment in deployments:
        labels = reveal(deployment.inputs)["spec"]["template"]["metadata"]["labels"]
        assert labels[INSTANCE_POD_LABEL] == "rocketchat", deployment.k8s_name
    nats = reveal(prod_raw.one("StatefulSet", "rocketchat-nats").inputs)["spec"]["template"]["metadata"]["labels"]
    assert INSTANCE_POD_LABEL not in nats, "NATS pods are not Rocket.Chat pods"
