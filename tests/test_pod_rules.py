"""tools.pod_rules: the API server's checks on pod templates that a schema cannot express, each shown to catch what
it is for, then applied to every Kubernetes object of every stack and variant the suite runs.

The chart's objects are checked in tests/test_release_chart_rules.py (it needs the chart).
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.release_support import VARIANTS, settings_for
from tools import manifests, pod_rules
from tools.engine import PROJECT_DIR, Recording, Secret, run_program
from tools.restricted import pod_template

# --- the rules, on small hand-written pods -------------------------------------------------------------------------

POD_SPEC: dict[str, Any] = {
    "volumes": [
        {"name": "tmp", "emptyDir": {}},
        {"name": "config", "secret": {"secretName": "web-config", "items": [{"key": "app.conf", "path": "app.conf"}]}},
        {"name": "settings", "configMap": {"name": "web-settings"}},
        {"name": "maybe", "secret": {"secretName": "absent", "optional": True}},
    ],
    "initContainers": [{"name": "migrate", "image": "web:1", "envFrom": [{"secretRef": {"name": "web-db"}}]}],
    "containers": [
        {
            "name": "web",
            "image": "web:1",
            "env": [
                {"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "web-db", "key": "url"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "web-settings", "key": "mode"}}},
                {"name": "EXTRA", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "x", "optional": True}}},
                {"name": "PLAIN", "value": "1"},
            ],
            "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 8053, "protocol": "UDP"},
                {"name": "dns-tcp", "containerPort": 8053},  # same port, other protocol: fine
            ],
            "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "config", "mountPath": "/etc/web"},
                {"name": "config", "mountPath": "/etc/web-again", "readOnly": True},  # a volume twice: fine
                {"name": "settings", "mountPath": "/etc/settings"},
            ],
        }
    ],
}
SECRETS = {"web-db": {"url"}, "web-config": {"app.conf", "other.conf"}}
CONFIG_MAPS = {"web-settings": {"mode"}}


def workload(kind: str = "Deployment", spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `kind` named web whose pods have `spec` (POD_SPEC by default), the pod where the kind keeps it."""
    spec = copy.deepcopy(POD_SPEC if spec is None else spec)
    template = {"metadata": {"labels": {"app": "web"}}, "spec": spec}
    body: dict[str, Any]
    if kind == "Pod":
        body = {"spec": spec}
    elif kind == "CronJob":
        body = {"spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}}}
    else:
        body = {"spec": {"template": template}}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": "web"}, **body}


def problems(doc: dict[str, Any]) -> list[str]:
    return pod_rules.problems(doc, SECRETS, CONFIG_MAPS)


WORKLOAD_KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_a_clean_pod_passes_in_every_workload_kind(kind: str) -> None:
    assert pod_template(workload(kind)) is not None
    assert problems(workload(kind)) == []


def test_objects_that_run_no_pods_have_no_problems() -> None:
    assert problems({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}}) == []


def add(field: str, item: dict[str, Any], container: str = "web") -> dict[str, Any]:
    """The clean Deployment with `item` appended to the pod's `field`, or to a list of one container's."""
    doc = workload()
    spec = doc["spec"]["template"]["spec"]
    if field in ("volumes", "containers", "initContainers", "ephemeralContainers"):
        spec.setdefault(field, []).append(item)
    else:
        (target,) = [c for c in spec["initContainers"] + spec["containers"] if c["name"] == container]
        target.setdefault(field, []).append(item)
    return doc


def ref(kind: str, name: str, key: str) -> dict[str, Any]:
    return {"valueFrom": {kind: {"name": name, "key": key}}}


NEVER = " (the pod would never start)"
WEB = "Deployment web, container web: spec.template.spec.containers[0]"
BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "duplicate volume": (
        add("volumes", {"name": "tmp", "emptyDir": {"medium": "Memory"}}),
        'Deployment web, volume tmp: spec.template.spec.volumes[4].name: Duplicate value: "tmp"',
    ),
    "duplicate mount path": (
        add("volumeMounts", {"name": "settings", "mountPath": "/tmp"}),
        f'{WEB}.volumeMounts[4].mountPath: Invalid value: "/tmp": must be unique',
    ),
    "mount of a missing volume": (
        add("volumeMounts", {"name": "cache", "mountPath": "/cache"}),
        f'{WEB}.volumeMounts[4].name: Not found: "cache"',
    ),
    "duplicate env name": (
        add("env", {"name": "MODE", "value": "fast"}),
        f'{WEB}.env[4].name: Duplicate value: "MODE" (hides the earlier definition; a server-side apply refuses it)',
    ),
    "duplicate port name": (
        add("ports", {"name": "http", "containerPort": 9090}),
        f'{WEB}.ports[3].name: Duplicate value: "http"',
    ),
    "duplicate containerPort and protocol": (
        add("ports", {"name": "http-alt", "containerPort": 8080, "protocol": "TCP"}),
        f'{WEB}.ports[3]: Duplicate value: "8080/TCP" (containerPort/protocol; a server-side apply refuses it)',
    ),
    "duplicate container name, init and main": (
        add("initContainers", {"name": "web", "image": "web:1"}),
        'Deployment web, container web: spec.template.spec.containers[0].name: Duplicate value: "web"',
    ),
    "duplicate container name, ephemeral": (
        add("ephemeralContainers", {"name": "migrate", "image": "debug:1"}),
        'Deployment web, container migrate: spec.template.spec.ephemeralContainers[0].name: Duplicate value: "migrate"',
    ),
    "secretKeyRef to an unknown Secret": (
        add("env", {"name": "TOKEN", **ref("secretKeyRef", "web-token", "token")}),
        f'{WEB}.env[4].valueFrom.secretKeyRef.name: Secret "web-token" not found' + NEVER,
    ),
    "secretKeyRef to an unknown key": (
        add("env", {"name": "DB_PASSWORD", **ref("secretKeyRef", "web-db", "password")}),
        f'{WEB}.env[4].valueFrom.secretKeyRef: Secret "web-db" has no key "password"' + NEVER,
    ),
    "envFrom an unknown Secret": (
        add("envFrom", {"secretRef": {"name": "web-env"}}),
        f'{WEB}.envFrom[0].secretRef.name: Secret "web-env" not found' + NEVER,
    ),
    "secret volume of an unknown Secret": (
        add("volumes", {"name": "certs", "secret": {"secretName": "web-tls"}}),
        'Deployment web, volume certs: spec.template.spec.volumes[4].secret.secretName: Secret "web-tls" not found'
        + NEVER,
    ),
    "secret volume item of an unknown key": (
        add("volumes", {"name": "one", "secret": {"secretName": "web-config", "items": [{"key": "x", "path": "x"}]}}),
        'Deployment web, volume one: spec.template.spec.volumes[4].secret: Secret "web-config" has no key "x"' + NEVER,
    ),
    "configMapKeyRef to an unknown key": (
        add("env", {"name": "LEVEL", **ref("configMapKeyRef", "web-settings", "level")}),
        f'{WEB}.env[4].valueFrom.configMapKeyRef: ConfigMap "web-settings" has no key "level"' + NEVER,
    ),
    "configMap volume of an unknown ConfigMap": (
        add("volumes", {"name": "extra", "configMap": {"name": "web-extra"}}),
        'Deployment web, volume extra: spec.template.spec.volumes[4].configMap.name: ConfigMap "web-extra" not found'
        + NEVER,
    ),
    "projected Secret that is unknown": (
        add("volumes", {"name": "all", "projected": {"sources": [{"secret": {"name": "web-tls"}}]}}),
        'Deployment web, volume all: spec.template.spec.volumes[4].projected.sources[0].secret.name: Secret "web-tls" '
        "not found" + NEVER,
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_each_rule_catches_its_problem_and_only_that(case: str) -> None:
    doc, expected = BROKEN[case]
    assert problems(doc) == [expected]


def test_field_paths_follow_where_each_kind_keeps_its_pod() -> None:
    spec = copy.deepcopy(POD_SPEC)
    spec["volumes"].append({"name": "tmp", "emptyDir": {}})
    assert problems(workload("Pod", spec)) == ['Pod web, volume tmp: spec.volumes[4].name: Duplicate value: "tmp"']
    assert problems(workload("CronJob", spec)) == [
        'CronJob web, volume tmp: spec.jobTemplate.spec.template.spec.volumes[4].name: Duplicate value: "tmp"'
    ]


def test_every_problem_of_a_pod_is_reported_at_once() -> None:
    doc = add("volumes", {"name": "tmp", "emptyDir": {}})
    web = doc["spec"]["template"]["spec"]["containers"][0]
    web["volumeMounts"] += [{"name": "tmp", "mountPath": "/tmp"}, {"name": "gone", "mountPath": "/gone"}]
    web["env"].append({"name": "PLAIN", "value": "2"})
    assert len(problems(doc)) == 4


def test_a_statefulsets_claim_templates_are_volumes_of_its_pods() -> None:
    doc = add("volumeMounts", {"name": "data", "mountPath": "/data"})
    assert problems(doc) == [f'{WEB}.volumeMounts[4].name: Not found: "data"']
    doc["kind"] = "StatefulSet"
    doc["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {}}]
    assert problems(doc) == []


def test_optional_references_may_name_what_does_not_exist() -> None:
    doc = add("env", {"name": "TOKEN", **ref("secretKeyRef", "web-db", "token")})
    assert len(problems(doc)) == 1
    doc["spec"]["template"]["spec"]["containers"][0]["env"][-1]["valueFrom"]["secretKeyRef"]["optional"] = True
    assert problems(doc) == []


def test_references_are_checked_as_far_as_what_is_known() -> None:
    doc = add("env", {"name": "TOKEN", **ref("secretKeyRef", "web-db", "token")})
    # Names only: the Secret exists, its keys are not known.
    assert pod_rules.problems(doc, {"web-db", "web-config"}, CONFIG_MAPS) == []
    assert pod_rules.problems(doc, {"web-db": None, "web-config": None}, CONFIG_MAPS) == []
    # Nothing known: references are not checked at all (only the pod's own consistency).
    assert pod_rules.problems(doc) == []
    # Known to be none: every reference that is not optional is a problem (two volumes, envFrom, three env vars).
    found = pod_rules.problems(doc, set(), set())
    fields = [p.split(": ")[1].rsplit(".", 1)[-1] for p in found]
    assert fields == ["secretName", "name", "name", "name", "name", "name"]
    assert len([p for p in found if '"web-db" not found' in p]) == 3


def test_known_secrets_and_config_maps_with_their_keys() -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "data": {"x": ""}, "stringData": {"y": ""}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "binaryData": {"z": ""}},
        {"apiVersion": "example.com/v1", "kind": "Secret", "metadata": {"name": "not-core"}},
        workload(),
    ]
    assert pod_rules.known(docs, "Secret") == {"a": {"x", "y"}, "empty": set()}
    assert pod_rules.known(docs, "ConfigMap") == {"c": {"z"}}


# --- the command line -----------------------------------------------------------------------------------------------


def write(directory: Path, *docs: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(docs):
        (directory / f"{i}.yaml").write_text(json.dumps(doc))  # JSON is YAML
    return directory


def secret(name: str, keys: set[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": dict.fromkeys(keys, "v")}


def config_map(name: str, keys: set[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict.fromkeys(keys, "v")}


def test_the_cli_reads_secrets_from_the_same_files_and_exits_1_on_a_problem(tmp_path: Path, capsys) -> None:
    objects = [secret(n, k) for n, k in SECRETS.items()] + [config_map(n, k) for n, k in CONFIG_MAPS.items()]
    clean = write(tmp_path / "clean", workload(), *objects)
    assert pod_rules.main([str(clean)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 pod templates checked, 0 break a rule"

    broken = write(tmp_path / "broken", BROKEN["duplicate volume"][0], *objects[1:])  # web-db left out
    assert pod_rules.main([str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{broken / '0.yaml'}: {BROKEN['duplicate volume'][1]}" in out
    assert any('Secret "web-db" not found' in line for line in out)
    assert out[-1] == "1 pod templates checked, 1 break a rule"
    assert pod_rules.main([]) == 2


def test_the_cli_passes_the_dev_stacks_dumped_manifests(dev: Recording, tmp_path: Path, capsys) -> None:
    manifests.write(manifests.kubernetes_objects(dev), manifests.release_values(dev), tmp_path)
    assert pod_rules.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "7 pod templates checked, 0 break a rule"


# --- every object of every stack and variant the suite runs ---------------------------------------------------------


def _literal(node: ast.expr) -> Any:
    """A literal argument of a call in a test file; `Secret(...)` as the engine's Secret."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Secret":
        (arg,) = node.args
        return Secret(_literal(arg))
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True)}
    return ast.literal_eval(node)


def stack_variant_runs() -> list[tuple[str, dict[str, Any]]]:
    """The program runs of tests/test_stack_variants.py, read from its source: a variant added there is checked here."""
    tree = ast.parse((PROJECT_DIR / "tests" / "test_stack_variants.py").read_text())
    runs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "run_program":
            if any(k.arg == "recording" for k in node.keywords):
                continue  # the bad-configuration runs: they register nothing
            stack, *rest = (_literal(a) for a in node.args)
            assert not node.keywords and len(rest) <= 1, ast.unparse(node)
            runs.append((stack, rest[0] if rest else {}))
    return runs


# (stack, overrides, removed keys): the conftest's stacks, test_stack_variants' and the helm variants.
RUNS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "dev": ("dev", {}, ()),
    "prod": ("prod", {}, ()),
    "prod_raw": ("prod", {"rocketchat:mode": "raw"}, ()),
    **{
        f"variants{i}-{stack}-{'+'.join(k.removeprefix('rocketchat:') for k in overrides)}": (stack, overrides, ())
        for i, (stack, overrides) in enumerate(stack_variant_runs())
    },
    **{f"helm-{name}": ("prod", overrides, remove) for name, (overrides, remove) in VARIANTS.items()},
}


def test_the_variants_are_read_from_test_stack_variants() -> None:
    variants = [run for name, run in RUNS.items() if name.startswith("variants")]
    assert len(variants) >= 10, variants
    assert ("dev", {"rocketchat:version": "7.6.5"}, ()) in variants
    assert ("dev", {"rocketchat:microservices": False}, ()) in variants


def expected_workloads(run: str, recording: Recording) -> set[str]:
    """The workloads the program itself runs, from its `replicas` output (every workload's pods) and its settings: in
    raw mode a Deployment per Rocket.Chat workload and MongoDB's StatefulSet; NATS's unless the chart brings its own."""
    settings = settings_for(*RUNS[run])
    replicas = recording.outputs["replicas"]
    expected = set()
    if settings.mode == "raw":
        expected |= {f"Deployment rocketchat-{w}" for w in replicas if w not in ("nats", "mongodb")}
        expected |= {f"StatefulSet {settings.instance}-mongodb"} if "mongodb" in replicas else set()
    if not settings.config.nats.bundled:
        expected.add("StatefulSet rocketchat-nats")
    return expected


def checked(docs: list[dict[str, Any]]) -> set[str]:
    return {f"{d['kind']} {d['metadata']['name']}" for d in docs if pod_template(d) is not None}


@pytest.mark.parametrize("run", RUNS)
def test_every_object_of_every_stack_passes_the_pod_rules(run: str) -> None:
    stack, overrides, remove = RUNS[run]
    recording = run_program(stack, overrides, remove)
    docs = manifests.kubernetes_objects(recording, show_secrets=True)
    assert checked(docs) == expected_workloads(run, recording)
    # The Secrets (and ConfigMaps) are exactly those this run registers, with their keys.
    secrets, config_maps = pod_rules.known(docs, "Secret"), pod_rules.known(docs, "ConfigMap")
    assert [p for doc in docs for p in pod_rules.problems(doc, secrets, config_maps)] == []


def test_the_stacks_workloads_are_the_expected_ones(dev: Recording, prod: Recording, prod_raw: Recording) -> None:
    rocketchat = {"rocketchat", "account", "authorization", "presence", "ddp-streamer"}
    assert checked(manifests.kubernetes_objects(dev)) == {f"Deployment rocketchat-{w}" for w in rocketchat} | {
        "StatefulSet rocketchat-nats",
        "StatefulSet rocketchat-mongodb",
    }
    assert checked(manifests.kubernetes_objects(prod_raw)) == {f"Deployment rocketchat-{w}" for w in rocketchat} | {
        "StatefulSet rocketchat-nats"
    }
    assert checked(manifests.kubernetes_objects(prod)) == {"StatefulSet rocketchat-nats"}  # the rest is the chart's


def test_the_programs_pods_are_checked_against_its_secrets(dev: Recording) -> None:
    # Not vacuous: without the bus Secret, or without the MongoDB URL's key, every Rocket.Chat pod is reported.
    docs = manifests.kubernetes_objects(dev)
    secrets = pod_rules.known(docs, "Secret")
    rocketchat = {f"Deployment rocketchat-{w}" for w in ("rocketchat", "account", "authorization", "presence")}
    rocketchat.add("Deployment rocketchat-ddp-streamer")

    def reported(known: dict[str, frozenset[str]]) -> set[str]:
        return {p.split(",")[0] for doc in docs for p in pod_rules.problems(doc, known, {})}

    assert reported(secrets) == set()
    assert reported({n: k for n, k in secrets.items() if n != "rocketchat-bus"}) == rocketchat
    assert reported(secrets | {"rocketchat-mongodb": frozenset()}) == rocketchat
