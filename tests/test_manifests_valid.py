"""kubernetes-validate in strict mode: every dumped object of every stack is valid for Kubernetes 1.28 to 1.33.

Strict means no field the API server does not know (a misspelt key would otherwise be dropped silently by the
server). The objects are exactly what tools.manifests writes: the dev stack, the prod stack switched to raw
resources, and the prod stack as it is (helm mode: the objects this program creates beside the chart).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest

from tools.manifests import kubernetes_objects

MINORS = [f"1.{minor}" for minor in range(28, 34)]
STACKS = ["dev", "prod_raw", "prod", "prod_raw_observed"]  # conftest fixtures: recordings of the real stack files
# The prometheus-operator's kinds have no schema here: the API server judges them (tests/e2e/test_monitoring.py).
CUSTOM_KINDS = {"PodMonitor", "PrometheusRule"}


@pytest.fixture(scope="module", autouse=True)
def parsed_schemas_kept() -> Iterator[None]:
    """kubernetes-validate re-reads its JSON schemas for every object (~70 ms, nearly all of it parsing the same
    definitions file) and lists its schema directories twice per object; keep each parsed file and the list for this
    module. Validation itself is unchanged."""
    utils = kubernetes_validate.utils
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "schema_contents", functools.cache(utils.schema_contents))
        patch.setattr(utils, "all_versions", functools.cache(utils.all_versions))
        yield


@pytest.fixture(scope="module")
def objects(request: pytest.FixtureRequest) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [d for d in kubernetes_objects(request.getfixturevalue(name)) if d["kind"] not in CUSTOM_KINDS]
        for name in STACKS
    }


def _problems(doc: dict[str, Any], version: str) -> list[str]:
    """Validation errors of one object ([] when valid); the schema used must be the one asked for."""
    name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
    try:
        used = kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{name}: {'.'.join(str(p) for p in error.path)}: {error.message}"]
    assert used == version.rsplit(".", 1)[0], f"{name} was checked against {used}, not {version}"
    return []


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_valid_in_strict_mode(objects: dict[str, list[dict[str, Any]]], stack: str, minor: str) -> None:
    docs = objects[stack]
    assert len(docs) >= 15, f"{stack}: only {len(docs)} objects dumped"
    problems = [p for doc in docs for p in _problems(doc, f"{minor}.0")]
    assert not problems, "\n".join(problems)


def test_the_schemas_cover_every_minor_asked_for() -> None:
    """kubernetes-validate silently falls back to an older schema for a version it lacks: make sure it has them all."""
    have = {v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()}
    assert set(MINORS) <= have


@pytest.mark.parametrize("minor", [MINORS[0], MINORS[-1]])
def test_strict_validation_rejects_what_the_api_server_would_drop_or_refuse(
    objects: dict[str, list[dict[str, Any]]], minor: str
) -> None:
    """The checks above can fail: a misspelt field, a wrong type and a missing required field are each caught."""
    deployment = next(d for d in objects["dev"] if d["kind"] == "Deployment")
    assert _problems(deployment, f"{minor}.0") == []

    misspelt = copy.deepcopy(deployment)
    container = misspelt["spec"]["template"]["spec"]["containers"][0]
    container["imagePullpolicy"] = container.pop("imagePullPolicy")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "2"
    missing = copy.deepcopy(deployment)
    del missing["spec"]["selector"]
    for broken in (misspelt, wrong_type, missing):
        assert len(_problems(broken, f"{minor}.0")) == 1
