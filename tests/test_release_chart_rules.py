"""The official chart's rendered objects (tests/test_release_chart.py renders them) against tools.pod_rules: what the
API server and the kubelet check beyond the schema, for every helm variant. Needs the chart, as that module does:

    eval "$(scripts/fetch-chart)"      # or: export ROCKETCHAT_CHART_DIR=/path/to/rocketchat
    venv/bin/python -m pytest tests/test_release_chart_rules.py

Without ROCKETCHAT_CHART_DIR the module is skipped, saying so.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

CHART_DIR_ENV = "ROCKETCHAT_CHART_DIR"
if not os.environ.get(CHART_DIR_ENV):
    pytest.skip(
        f"{CHART_DIR_ENV} is not set: these tests render the official rocketchat chart with real Helm. "
        f'Fetch the pinned chart with `eval "$(scripts/fetch-chart)"` (needs network) and run them again.',
        allow_module_level=True,
    )

import kubernetes_validate  # noqa: E402

from tests.release_support import VARIANTS  # noqa: E402
from tests.test_release_chart import TEST_HOOK, Rendered, deployment_in, render, rendered  # noqa: E402
from tools import pod_rules  # noqa: E402
from tools.manifests import kubernetes_objects  # noqa: E402
from tools.restricted import pod_template  # noqa: E402

ALL = list(VARIANTS)


def installed(result: Rendered) -> list[dict[str, Any]]:
    """What an install creates: everything the chart renders but its `helm test` hooks."""
    return [d for d in result.docs if (d["metadata"].get("annotations") or {}).get("helm.sh/hook") != TEST_HOOK]


def known(result: Rendered, kind: str) -> dict[str, frozenset[str]]:
    """The Secrets (ConfigMaps) beside the release's pods: the program's, and the ones the chart installs itself."""
    return pod_rules.known(kubernetes_objects(result.program.recording, show_secrets=True), kind) | pod_rules.known(
        installed(result), kind
    )


def workloads(docs: list[dict[str, Any]]) -> set[str]:
    return {f"{d['kind']} {d['metadata']['name']}" for d in docs if pod_template(d) is not None}


def expected_workloads(result: Rendered) -> set[str]:
    """From the program's `replicas` output: a Deployment per Rocket.Chat workload, and the chart's NATS and MongoDB
    StatefulSets in the variants that ask for them (otherwise NATS is the program's and MongoDB external)."""
    replicas, release = result.program.recording.outputs["replicas"], result.release
    expected = {f"Deployment {release}-{w}" for w in replicas if w not in ("nats", "mongodb")}
    if result.name == "bundled-nats":
        expected.add(f"StatefulSet {release}-nats")
    if result.name == "in-cluster-mongodb":
        expected.add(f"StatefulSet {release}-mongodb")
    return expected


@pytest.mark.parametrize("name", ALL)
def test_every_installed_object_passes_the_pod_rules(name: str) -> None:
    result = rendered(name)
    docs = installed(result)
    assert workloads(docs) == expected_workloads(result)
    hooks = [d for d in result.docs if d not in docs]
    assert all(d["kind"] == "Pod" for d in hooks), "only test Pods are left out"
    secrets, config_maps = known(result, "Secret"), known(result, "ConfigMap")
    assert {"rocketchat-license", "rocketchat-rocketchat"} <= set(secrets)  # the program's and the chart's
    assert [p for doc in docs for p in pod_rules.problems(doc, secrets, config_maps)] == []


@pytest.mark.parametrize("name", ALL)
def test_no_object_is_both_the_programs_and_the_charts(name: str) -> None:
    # Helm refuses to install over an object it does not own, and Pulumi would fight Helm over one it does.
    result = rendered(name)
    program = {(d["kind"], d["metadata"]["name"]) for d in kubernetes_objects(result.program.recording)}
    chart = {(d["kind"], d["metadata"]["name"]) for d in installed(result)}
    assert program and chart
    assert program & chart == set()


def writable_tmp(deployment: dict[str, Any]) -> list[str]:
    """The writable mounts at /tmp of a single-container Deployment whose root filesystem is read-only, each as
    `<volume name>: <volume type>`."""
    spec = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    (container,) = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True, deployment["metadata"]["name"]
    return [
        f"{m['name']}: {', '.join(sorted(set(volumes.get(m['name'], {})) - {'name'})) or 'no such volume'}"
        for m in container["volumeMounts"]
        if m["mountPath"].rstrip("/") == "/tmp" and not m.get("readOnly") and "subPath" not in m
    ]


@pytest.mark.parametrize("name", ALL)
def test_every_read_only_rocketchat_container_has_exactly_one_writable_tmp(name: str) -> None:
    result = rendered(name)
    deployments = result.of_kind("Deployment")  # the chart's Rocket.Chat workloads, monolith and services
    assert {f"Deployment {n}" for n in deployments} == {
        w for w in expected_workloads(result) if w.startswith("Deployment ")
    }
    assert {n: writable_tmp(d) for n, d in deployments.items()} == {n: ["tmp: emptyDir"] for n in deployments}


def test_the_rules_catch_the_duplicate_tmp_the_api_server_rejected() -> None:
    # The values before the fix: the chart's extra volumes as plain lists, which it adds to every Rocket.Chat
    # Deployment, the monolith included, whose template has a `tmp` at /tmp of its own.
    result = rendered("prod")
    values = copy.deepcopy(result.program.values)
    values["extraVolumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    values["extraVolumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    docs = render(values, name=result.release, namespace=result.program.release.inputs["namespace"])
    secrets, config_maps = known(result, "Secret"), known(result, "ConfigMap")
    found = {d["metadata"]["name"]: pod_rules.problems(d, secrets, config_maps) for d in docs if pod_template(d)}
    assert found.pop("rocketchat-rocketchat") == [
        'Deployment rocketchat-rocketchat, volume tmp: spec.template.spec.volumes[2].name: Duplicate value: "tmp"',
        (
            "Deployment rocketchat-rocketchat, container rocketchat: "
            'spec.template.spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/tmp": must be unique'
        ),
    ]
    # The services had no /tmp of their own: for them the old values were right.
    assert set(found) == {
        "rocketchat-account",
        "rocketchat-authorization",
        "rocketchat-presence",
        "rocketchat-ddp-streamer",
    }
    assert all(problems == [] for problems in found.values()), found
    # The /tmp test above catches it too.
    monolith = deployment_in(docs, "rocketchat-rocketchat")
    assert writable_tmp(monolith) == ["tmp: emptyDir", "tmp: emptyDir"]
    # ...and the schema alone passes the broken monolith, as it did before the fix.
    assert kubernetes_validate.validate(monolith, "1.30.0", strict=True) == "1.30"
