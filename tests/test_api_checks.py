"""tools/api_checks.py finds what the API server would refuse in a manifest: each check, shown firing on an object of
the dev stack broken in one way (the property tests rely on these checks; a check that never fires proves nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tools.api_checks import main, object_problems
from tools.engine import Recording
from tools.manifests import kubernetes_objects

Doc = dict[str, Any]


def by_kind(dev: Recording, kind: str, name: str | None = None) -> Doc:
    return copy.deepcopy(
        next(
            d for d in kubernetes_objects(dev) if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
        )
    )


def pod(doc: Doc) -> Doc:
    return doc["spec"]["template"]["spec"]


def test_every_object_of_the_dev_stack_passes(dev: Recording) -> None:
    assert [p for doc in kubernetes_objects(dev) for p in object_problems(doc)] == []


def _set(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


BROKEN: list[tuple[str, str, str | None, Callable[[Doc], None], str]] = [
    ("service-name", "Service", None, _set(["metadata", "name"], "1chat"), "metadata.name: '1chat' is not a Service"),
    ("statefulset-name", "StatefulSet", None, _set(["metadata", "name"], "s" * 64), "is not a DNS label"),
    ("label-value", "Deployment", None, _set(["metadata", "labels", "team"], "a b"), "is not a Kubernetes label value"),
    ("annotation-key", "Deployment", None, _set(["metadata", "annotations", "a/b/c"], "x"), "label key"),
    ("annotations-size", "Ingress", None, _set(["metadata", "annotations", "x"], "y" * 262_144), "256 KiB"),
    ("int32", "Deployment", None, _set(["spec", "replicas"], 2**31), "beyond the field's range"),
    ("secret-size", "Secret", None, _set(["stringData", "big"], "z" * (1 << 20)), "a Secret holds at most 1 MiB"),
    (
        "request-over-limit",
        "Deployment",
        None,
        lambda d: pod(d)["containers"][0]["resources"]["requests"].update(memory="64Gi"),
        "the memory request 64Gi is above the memory limit",
    ),
    (
        "toleration",
        "Deployment",
        None,
        _set(["spec", "template", "spec", "tolerations"], [{"operator": "Exists", "value": "x"}]),
        "tolerations[0].value: must be empty when operator is Exists",
    ),
    (
        "node-selector",
        "Deployment",
        None,
        _set(["spec", "template", "spec", "nodeSelector"], {"pool": "a b"}),
        "nodeSelector.pool",
    ),
    (
        "image-tag",
        "Deployment",
        None,
        lambda d: pod(d)["containers"][0].update(image="docker.io/rocketchat/account-service:8.6.1+build"),
        "cannot be an image tag",
    ),
    ("image-required", "Deployment", None, lambda d: pod(d)["containers"][0].pop("image"), "image: is required"),
    (
        "fraction-of-a-byte",
        "Deployment",
        None,
        lambda d: pod(d)["containers"][0]["resources"]["requests"].update(memory="100m"),
        "a fraction of a byte",
    ),
    (
        "claim-storage",
        "StatefulSet",
        "rocketchat-mongodb",
        lambda d: d["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].update(storage="0"),
        "must be greater than zero",
    ),
    ("ingress-host", "Ingress", None, lambda d: d["spec"]["rules"][0].update(host="10.0.0.1"), "is an IP address"),
    (
        "ingress-backend",
        "Ingress",
        None,
        lambda d: d["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(name="r" * 64),
        "backend.service.name",
    ),
    (
        "route-parents",
        "Service",
        None,
        lambda d: d.update(
            apiVersion="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            spec={
                "parentRefs": [{"name": "public", "sectionName": "https"}, {"name": "public", "sectionName": "https"}]
            },
        ),
        "parentRefs[1]: refers to the same Gateway and listener as parentRefs[0]",
    ),
    (
        "selector",
        "Service",
        None,
        _set(["spec", "selector", "app.kubernetes.io/name"], "-x"),
        "spec.selector.app.kubernetes.io/name",
    ),
]


@pytest.mark.parametrize(("case", "kind", "name", "change", "says"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_check_fires_on_an_object_broken_its_way(
    dev: Recording, case: str, kind: str, name: str | None, change: Callable[[Doc], None], says: str
) -> None:
    doc = by_kind(dev, kind, name)
    assert object_problems(doc) == []
    change(doc)
    problems = object_problems(doc)
    assert len(problems) == 1 and says in problems[0], problems
    assert problems[0].startswith(f"{doc['kind']}/{doc['metadata']['name']}: "), problems


def test_the_command_reads_manifest_files(tmp_path: Any, dev: Recording, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    good, bad = by_kind(dev, "Service"), by_kind(dev, "Service")
    bad["metadata"]["name"] = "1chat"
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(good))
    assert main([str(tmp_path)]) == 0
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert main([str(tmp_path)]) == 1
    assert "bad.yaml: Service/1chat: metadata.name" in capsys.readouterr().out
