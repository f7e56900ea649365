"""The CrossGuard policy pack (policy/): the shipped stacks pass every rule; a resource that breaks a rule is rejected.

Resources come from the recording engine (the real program and stack files). They reach the rules twice: as plain
dicts (the pure functions) and the way the policy SDK hands them over during a preview (deserialized by
pulumi_policy, behind its proxy that raises on values not known yet), through the ResourceValidationPolicy wrappers.
"""

from __future__ import annotations

import copy
import json
import re
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
import yaml
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from tools.engine import Recording, reveal, run_program

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
sys.path.insert(0, str(POLICY_DIR))

import rocketchat_policies as policies  # noqa: E402
import rocketchat_rules as rules  # noqa: E402

STACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "prod-raw": ("prod", {"rocketchat:mode": "raw"}),
    # Before 7.7 stream-hub is required: a raw stack that runs it.
    "dev-7.6": ("dev", {"rocketchat:version": "7.6.0"}),
}


@pytest.fixture(scope="module")
def recordings() -> dict[str, Recording]:
    return {name: run_program(stack, overrides) for name, (stack, overrides) in STACKS.items()}


def sdk_props(inputs: dict[str, Any]) -> Any:
    """Inputs as the policy SDK gives them to a validation: deserialized, behind the unknown-checking proxy."""
    return unknown_checking_proxy(deserialize_properties(json.loads(json.dumps(inputs))))


def run_policies(resource_type: str, props: Any) -> dict[str, list[str]]:
    """Every wrapper of the pack against one resource: policy name -> reported messages."""
    reported: dict[str, list[str]] = {}
    for policy in policies.POLICIES:
        messages: list[str] = []
        args = pulumi_policy.ResourceValidationArgs(
            resource_type, props, f"urn:pulumi:test::rocketchat::{resource_type}::x", "x", None, None
        )
        policy.validate(args, lambda message, urn=None, sink=messages: sink.append(message))
        if messages:
            reported[policy.name] = messages
    return reported


def workload(recording: Recording, kind: str, name: str) -> tuple[str, dict[str, Any]]:
    resource = recording.one(kind, name)
    return resource.type, copy.deepcopy(reveal(resource.inputs))


def release(recording: Recording) -> tuple[str, dict[str, Any]]:
    resource = recording.of_type("Release")[0]
    return resource.type, copy.deepcopy(reveal(resource.inputs))


def first_container(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]["containers"][0]


def env_entry(props: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in first_container(props)["env"] if e["name"] == name)


def assert_rejected(resource_type: str, props: dict[str, Any], rule: str, message: str) -> None:
    """Only `rule` rejects the resource, with a message containing `message`, in both the pure and the SDK path."""
    pure = rules.violations(resource_type, props)
    assert set(pure) == {rule}, pure
    assert any(message in m for m in pure[rule]), pure[rule]
    assert run_policies(resource_type, sdk_props(props)) == pure


# ---------------------------------------------------------------------------------------------------------
# The shipped stacks
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_shipped_stacks_pass_every_rule(recordings: dict[str, Recording], stack: str) -> None:
    recording = recordings[stack]
    judged = [r for r in recording.resources if r.type.startswith("kubernetes:")]
    for resource in judged:
        assert rules.violations(resource.type, reveal(resource.inputs)) == {}, resource.name
        assert run_policies(resource.type, sdk_props(resource.inputs)) == {}, resource.name
    # Not vacuous: the rules had their subjects in front of them.
    kinds = {r.kind for r in judged}
    assert {"Deployment", "StatefulSet"} <= kinds or "Release" in kinds


def test_the_stream_hub_of_a_raw_stack_is_recognised(recordings: dict[str, Recording]) -> None:
    found = [r.k8s_name for r in recordings["dev-7.6"].of_type("Deployment") if rules.is_stream_hub(reveal(r.inputs))]
    assert found == ["rocketchat-stream-hub"]
    others = [r for r in recordings["dev"].of_type("Deployment") if rules.is_stream_hub(reveal(r.inputs))]
    assert others == []


def test_unknown_values_during_a_preview_do_not_stop_the_rules(recordings: dict[str, Recording]) -> None:
    """On a first preview the namespace and the Secrets' names are outputs not known yet."""
    resource_type, props = workload(recordings["dev"], "Deployment", "rocketchat-rocketchat")
    props["metadata"]["namespace"] = UNKNOWN_STRING_VALUE
    for name in ("MONGO_URL", "TRANSPORTER"):
        env_entry(props, name)["valueFrom"]["secretKeyRef"]["name"] = UNKNOWN_STRING_VALUE
    assert run_policies(resource_type, sdk_props(props)) == {}

    env_entry(props, "MONGO_URL").pop("valueFrom")
    env_entry(props, "MONGO_URL")["value"] = UNKNOWN_STRING_VALUE  # a literal, even if not known yet
    assert set(run_policies(resource_type, sdk_props(props))) == {"secret-env"}


# ---------------------------------------------------------------------------------------------------------
# One broken resource per rule
# ---------------------------------------------------------------------------------------------------------


def test_stream_hub_with_two_replicas_is_rejected(recordings: dict[str, Recording]) -> None:
    resource_type, props = workload(recordings["dev-7.6"], "Deployment", "rocketchat-stream-hub")
    props["spec"]["replicas"] = 2
    assert_rejected(resource_type, props, "stream-hub-singleton", "stream-hub must run exactly one pod, not 2")


@pytest.mark.parametrize(
    "strategy", [{"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, None]
)
def test_stream_hub_that_rolls_is_rejected(recordings: dict[str, Recording], strategy: dict | None) -> None:
    resource_type, props = workload(recordings["dev-7.6"], "Deployment", "rocketchat-stream-hub")
    if strategy is None:
        del props["spec"]["strategy"]  # Kubernetes' default is RollingUpdate
    else:
        props["spec"]["strategy"] = strategy
    assert_rejected(resource_type, props, "stream-hub-singleton", "must use the Recreate strategy, not RollingUpdate")


def test_a_release_that_turns_on_the_charts_stream_hub_is_rejected(recordings: dict[str, Recording]) -> None:
    resource_type, props = release(recordings["prod"])
    props["values"]["microservices"]["streamHub"] = {"enabled": True, "replicas": 2}
    messages = rules.violations(resource_type, props)["stream-hub-singleton"]
    assert any("streamHub.replicas must not exceed 1 (got 2)" in m for m in messages)
    assert any("RollingUpdate (maxSurge 1)" in m for m in messages)
    # Monolith mode renders no stream-hub at all, whatever the key says.
    props["values"]["microservices"] = {"enabled": False, "streamHub": {"enabled": True}}
    assert "stream-hub-singleton" not in rules.violations(resource_type, props)


def test_an_autoscaler_over_stream_hub_is_rejected() -> None:
    props = {
        "metadata": {"name": "stream-hub"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "rocketchat-stream-hub"}, "maxReplicas": 3},
    }
    assert_rejected(rules.HPA, props, "stream-hub-singleton", "never scale beyond one pod (maxReplicas 3)")


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("docker.io/rocketchat/account-service:latest", "uses the moving tag 'latest'"),
        ("docker.io/rocketchat/account-service", "has no tag (it means :latest)"),
        ("registry.example.com:5000/rocketchat/account-service", "has no tag"),  # a port is not a tag
    ],
)
def test_unpinned_images_are_rejected(recordings: dict[str, Recording], image: str, message: str) -> None:
    resource_type, props = workload(recordings["dev"], "Deployment", "rocketchat-account")
    first_container(props)["image"] = image
    assert_rejected(resource_type, props, "pinned-images", message)


def test_a_digest_pins_an_image(recordings: dict[str, Recording]) -> None:
    resource_type, props = workload(recordings["dev"], "Deployment", "rocketchat-account")
    first_container(props)["image"] = "docker.io/rocketchat/account-service@sha256:" + "a" * 64
    assert rules.violations(resource_type, props) == {}


def test_an_unpinned_init_container_image_is_rejected(recordings: dict[str, Recording]) -> None:
    resource_type, props = workload(recordings["dev"], "StatefulSet", "rocketchat-mongodb")
    container = first_container(props)
    props["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "wait", "image": "docker.io/library/busybox", "resources": container["resources"]}
    ]
    assert_rejected(
        resource_type, props, "pinned-images", "init container wait image 'docker.io/library/busybox' has no tag"
    )


@pytest.mark.parametrize(("tag", "shown"), [("latest", "'latest'"), ("8.6", "'8.6'"), (None, "None")])
def test_a_release_without_an_exact_image_tag_is_rejected(
    recordings: dict[str, Recording], tag: str | None, shown: str
) -> None:
    resource_type, props = release(recordings["prod"])
    if tag is None:
        del props["values"]["image"]["tag"]
    else:
        props["values"]["image"]["tag"] = tag
    assert_rejected(resource_type, props, "pinned-images", "values.image.tag must be an exact Rocket.Chat version")
    assert shown in rules.violations(resource_type, props)["pinned-images"][0]


@pytest.mark.parametrize("variable", ["MONGO_URL", "TRANSPORTER"])
def test_a_literal_database_or_bus_url_is_rejected(recordings: dict[str, Recording], variable: str) -> None:
    resource_type, props = workload(recordings["dev"], "Deployment", "rocketchat-rocketchat")
    entry = env_entry(props, variable)
    entry.pop("valueFrom")
    entry["value"] = "mongodb://user:pass@db:27017/rc?replicaSet=rs0"
    assert_rejected(
        resource_type,
        props,
        "secret-env",
        f"container rocketchat: {variable} is a literal value; read it from a Secret",
    )


def test_a_bus_url_from_a_config_map_is_rejected(recordings: dict[str, Recording]) -> None:
    resource_type, props = workload(recordings["dev"], "Deployment", "rocketchat-ddp-streamer")
    env_entry(props, "TRANSPORTER")["valueFrom"] = {"configMapKeyRef": {"name": "bus", "key": "url"}}
    assert_rejected(resource_type, props, "secret-env", "TRANSPORTER comes from configMapKeyRef, not a Secret")


def test_a_release_that_carries_the_database_url_in_its_values_is_rejected(recordings: dict[str, Recording]) -> None:
    resource_type, props = release(recordings["prod"])
    props["values"]["externalMongodbUrl"] = "mongodb://user:pass@db:27017/rc?replicaSet=rs0"
    props["values"]["extraEnv"].append({"name": "TRANSPORTER", "value": "nats://user:pass@nats:4222"})
    messages = rules.violations(resource_type, props)["secret-env"]
    assert len(messages) == 2
    assert "values.extraEnv TRANSPORTER is a literal value" in messages[0]
    assert "set existingMongodbSecret" in messages[1]


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda c: c["resources"]["limits"].pop("memory"), "has no resources limits.memory"),
        (lambda c: c["resources"].pop("requests"), "has no resources requests.cpu, requests.memory"),
        (lambda c: c.pop("resources"), "has no resources requests.cpu, requests.memory, limits.memory"),
        (lambda c: c.pop("readinessProbe"), "has no readinessProbe"),
        (lambda c: (c.pop("livenessProbe"), c.pop("startupProbe")), "has no livenessProbe or startupProbe"),
    ],
)
def test_containers_without_resources_or_probes_are_rejected(
    recordings: dict[str, Recording], break_it: Callable[[dict], Any], message: str
) -> None:
    resource_type, props = workload(recordings["dev"], "Deployment", "rocketchat-presence")
    break_it(first_container(props))
    assert_rejected(resource_type, props, "container-resources-and-probes", f"container presence {message}")


def test_a_startup_probe_stands_in_for_a_liveness_probe(recordings: dict[str, Recording]) -> None:
    resource_type, props = workload(recordings["dev"], "StatefulSet", "rocketchat-nats")
    first_container(props).pop("livenessProbe")
    assert rules.violations(resource_type, props) == {}


def test_a_release_without_service_resources_or_monolith_probes_is_rejected(recordings: dict[str, Recording]) -> None:
    resource_type, props = release(recordings["prod"])
    props["values"]["microservices"]["ddpStreamer"].pop("resources")
    props["values"]["livenessProbe"] = {"enabled": False}
    messages = rules.violations(resource_type, props)["container-resources-and-probes"]
    assert any("values.microservices.ddpStreamer has no resources requests.cpu" in m for m in messages)
    assert any("values.livenessProbe.enabled is false" in m for m in messages)


@pytest.mark.parametrize("version", ["^7.0.0", "7.x", "~7.0", ">=7.0.2", "latest", None])
def test_an_unpinned_chart_version_is_rejected(recordings: dict[str, Recording], version: str | None) -> None:
    resource_type, props = release(recordings["prod"])
    if version is None:
        del props["version"]
    else:
        props["version"] = version
    assert_rejected(resource_type, props, "pinned-chart-version", "chart 'rocketchat' has ")
    assert "pin an exact chart version" in rules.violations(resource_type, props)["pinned-chart-version"][0]


# ---------------------------------------------------------------------------------------------------------
# The pack itself
# ---------------------------------------------------------------------------------------------------------


def test_the_pack_is_a_runnable_python_policy_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert settings["runtime"]["name"] == "python"
    assert settings["runtime"]["options"]["virtualenv"] == "venv"
    requirements = (POLICY_DIR / "requirements.txt").read_text()
    assert re.search(r"^pulumi-policy[<>=]", requirements, re.MULTILINE)

    built: dict[str, Any] = {}
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.update(kwargs))
    runpy.run_path(str(POLICY_DIR), run_name="__main__")  # what `pulumi-analyzer-policy-python` does
    assert re.match(r"^[a-zA-Z0-9._-]{1,100}$", built["name"])
    assert [p.name for p in built["policies"]] == [r.name for r in rules.RULES]
    assert all(p.enforcement_level == pulumi_policy.EnforcementLevel.MANDATORY for p in built["policies"])


def _resource_types(recording: Recording) -> set[str]:
    return {r.type for r in recording.resources}


def test_every_rule_has_a_subject_in_the_shipped_stacks(recordings: dict[str, Recording]) -> None:
    """The rules watch the type tokens the program really registers (a typo would make a rule silently pass)."""
    seen = set().union(*(_resource_types(r) for r in recordings.values()))
    assert {rules.DEPLOYMENT, rules.STATEFULSET, rules.RELEASE} <= seen
