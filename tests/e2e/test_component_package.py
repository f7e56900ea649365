"""The component package through the real CLI: `pulumi package get-schema` gives the committed schema, and a Pulumi
YAML program (examples/yaml-stack) deploys a Rocket.Chat stack to the cluster with it, then destroys it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import REPO, REPORT, Cluster, Pulumi
from tests.e2e.support import (
    Stack,
    assert_destroyed,
    cluster_overrides,
    deep_merge,
    deployments_available,
    wait_for,
)
from tools.component_schema import SCHEMA_FILE, outline

pytestmark = pytest.mark.e2e

PROVIDER = REPO / "provider"
EXAMPLE = REPO / "examples" / "yaml-stack"


def test_get_schema_gives_the_committed_schema(pulumi: Pulumi, tools: Path) -> None:
    proc = pulumi.timed("package: get-schema", "package", "get-schema", str(PROVIDER))
    served = json.loads(proc.stdout)
    assert (served["name"], served["version"]) == ("rocketchat", json.loads(SCHEMA_FILE.read_text())["version"])
    assert outline(served) == outline(json.loads(SCHEMA_FILE.read_text()))
    REPORT.append(
        f"package: `pulumi package get-schema provider` serves {sorted(served['resources'])}, with the committed "
        f"inputs, outputs and {len(served['types'])} types"
    )


def test_a_yaml_program_deploys_a_stack_with_the_package(
    pulumi: Pulumi, cluster: Cluster, tools: Path, tmp_path: Path
) -> None:
    if not os.access(tools / "pulumi-language-yaml", os.X_OK):
        pytest.skip(f"no pulumi-language-yaml in {tools}: build it with scripts/e2e-toolchain")
    program = tmp_path / "yaml-stack"
    shutil.copytree(EXAMPLE, program)
    document = yaml.safe_load((program / "Pulumi.yaml").read_text())
    document["packages"]["rocketchat"] = str(PROVIDER)
    # What this cluster needs (tests/e2e/overrides-kwok.yaml), as the component's own properties.
    needs = cluster_overrides(cluster, {"rocketchat:mongodb": {"inCluster": {}}})
    properties = document["resources"]["chat"]["properties"]
    for key, value in needs.items():
        name = key.split(":", 1)[1]
        properties[name] = deep_merge(properties.get(name), value)
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    # The components' generated passwords are Python dynamic resources: the engine serves them with a Python that has
    # the Pulumi SDK and the components, which a YAML project does not name (README, "Reusing the components"): here
    # the repository's venv, and the repository on the path (as `pip install` of the package would put it).
    python = {"PULUMI_RUNTIME_VIRTUALENV": str(REPO / "venv"), "PYTHONPATH": str(REPO)}
    cli = Pulumi(pulumi.bin_dir, program, "yaml-e2e", pulumi.env | python)
    cli.run("stack", "init", cli.stack, "--secrets-provider", "passphrase")
    stack = Stack(cli, cli.stack, {}, program / "Pulumi.yaml")
    try:
        stack.timed("package: up (a YAML program)", "up", "--yes", "--skip-preview")
        out = stack.outputs()
        assert out["url"] == "http://chat.yaml.example.com" and out["namespace"] == "rocketchat-yaml"
        assert out["replicas"]["ddp-streamer"] == 2, out["replicas"]  # 1000 concurrent users
        expected = {f"rocketchat-{w}": n for w, n in out["replicas"].items() if w not in ("nats", "mongodb")}
        wait_for("the YAML stack's Deployments", lambda: deployments_available(cluster, "rocketchat-yaml", expected))
        monolith = cluster.json("get", "deployment", "rocketchat-rocketchat", "-n", "rocketchat-yaml")
        (container,) = monolith["spec"]["template"]["spec"]["containers"]
        assert {"name": "OVERWRITE_SETTING_Site_Name", "value": "Chat from YAML"} in container["env"]
        urns = [r["urn"] for r in stack.run_json("stack", "export")["deployment"]["resources"]]
        assert any(u.endswith("rocketchat:index:RocketChatStack::chat") for u in urns)
        REPORT.append(
            f"package: a Pulumi YAML program deployed RocketChatStack through provider/: {len(urns)} resources, "
            f"Deployments {sorted(expected.items())} Available"
        )
    finally:
        stack.timed("package: destroy", "destroy", "--yes", "--skip-preview", check=False)
    assert_destroyed(stack, cluster, "rocketchat-yaml", "package")
    stack.run("stack", "rm", "--yes", "--force", check=False)
