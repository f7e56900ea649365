"""The components as another program uses them: they reach no stack config, they install as a package, a program of
another team composes two of them, and the component package's schema is what the committed schema says."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools.component_schema import SCHEMA_FILE, package_schema
from tools.engine import PROJECT_DIR, contains_secret, reveal, run_program

COMPONENT_MODULES = sorted(p.stem for p in (PROJECT_DIR / "components").glob("*.py") if p.stem != "__init__")
EXAMPLE = PROJECT_DIR / "examples" / "python-bus-and-ingress"


def test_no_component_module_reaches_the_stack_config_or_pydantic() -> None:
    """Imported alone, in a fresh interpreter, every component module loads neither the program's config adapter
    (stack_config) nor pydantic, directly or through another module."""
    assert {"stack", "nats", "ingress", "microservices", "release", "network", "mongodb"} <= set(COMPONENT_MODULES)
    probe = (
        "import importlib, json, sys\n"
        f"found = {{}}\nfor name in {COMPONENT_MODULES!r}:\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module(f'components.{name}')\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in ('stack_config', 'pydantic', 'tools', 'tests'))\n"
        "print(json.dumps(found))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_adapter_is_what_reaches_them() -> None:
    """The control: the program's entry point does load the adapter (so the probe above can see it)."""
    probe = "import sys; import stack_config; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_the_wheel_holds_the_components_alone(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("*.whl")
    assert wheel.name.startswith("rocketchat_k8s_pulumi_components-")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"components"}
    assert {f"components/{m}.py" for m in COMPONENT_MODULES} <= set(names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = sorted(
        line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist")
    )
    assert requires == ["pulumi-kubernetes<5,>=4.20", "pulumi<4,>=3.200"]


def test_another_teams_program_composes_nats_and_the_ingress_around_its_own_deployment() -> None:
    recording = run_program("example", project_dir=EXAMPLE)
    kinds = sorted(r.type for r in recording.resources)
    assert "rocketchat:index:NatsCluster" in kinds and "rocketchat:index:RocketChatIngress" in kinds
    assert "rocketchat:index:RocketChatStack" not in kinds, "two components, not the whole stack"
    [statefulset] = recording.of_type("StatefulSet")
    assert reveal(statefulset.inputs)["spec"]["replicas"] == 3
    assert reveal(statefulset.inputs)["metadata"]["labels"]["app.kubernetes.io/instance"] == "bridge"
    [ingress] = recording.of_type("Ingress")
    spec = reveal(ingress.inputs)["spec"]
    assert spec["rules"][0]["host"] == "bridge.example.com"
    [service] = [s for s in recording.of_type("Service") if s.name == "bridge"]
    service_name = service.outputs["metadata"]["name"]  # named by the engine, as the real provider names it
    assert service_name.startswith("bridge-")
    backends = {p["path"]: p["backend"]["service"]["name"] for p in spec["rules"][0]["http"]["paths"]}
    assert backends == {"/websocket": service_name, "/sockjs": service_name, "/": service_name}
    # The team's Deployment reads the bus URL, with its generated credentials, from its own Secret.
    [bus] = [s for s in recording.of_type("Secret") if s.name == "bridge-bus"]
    assert contains_secret(bus.inputs["stringData"])
    assert reveal(bus.inputs)["stringData"]["url"].startswith("nats://rocketchat:generated-bus-client-password@")
    assert recording.secret_outputs == {"natsUrl"}


def test_the_component_package_schema_is_the_committed_one() -> None:
    """provider/schema.json is regenerated with `python -m tools.component_schema > provider/schema.json`."""
    schema = package_schema()
    assert schema == json.loads(SCHEMA_FILE.read_text()), "regenerate provider/schema.json (see its module)"
    resources = schema["resources"]
    assert sorted(resources) == [
        f"rocketchat:index:{c}"
        for c in (
            "MicroserviceSet",
            "NatsCluster",
            "RocketChatIngress",
            "RocketChatRoute",
            "RocketChatStack",
            "StackMonitoring",
        )
    ]
    assert all(r["isComponent"] for r in resources.values())
    stack = resources["rocketchat:index:RocketChatStack"]
    assert stack["requiredInputs"] == ["host", "mode", "version"]
    assert {"url", "ingressAddress", "gatewayAddress", "servedBy", "dnsRecords", "replicas", "namespace"} <= set(
        stack["properties"]
    )
    route = resources["rocketchat:index:RocketChatRoute"]
    assert route["requiredInputs"] == ["host", "monolithService", "namespace", "parentRefs"]
    assert {"address", "name"} <= set(route["properties"])
    assert resources["rocketchat:index:NatsCluster"]["requiredInputs"] == ["namespace"]
    assert {"clientUrl", "serviceName", "selector"} <= set(resources["rocketchat:index:NatsCluster"]["properties"])


@pytest.mark.parametrize(
    ("component", "inputs"),
    [
        ("RocketChatStack", {"mode", "mongoUrl", "license", "instance"}),
        ("NatsCluster", {"replicas", "instance"}),
        ("RocketChatIngress", {"monolithService", "ddpStreamerService", "clusterIssuer", "externalDnsPrefix"}),
        ("RocketChatRoute", {"parentRefs", "ddpStreamerService", "sessionPersistence"}),
        ("MicroserviceSet", {"workloads", "mongoUrl", "transporter", "license", "rootUrl"}),
        ("StackMonitoring", {"podMonitor", "natsPods", "prometheusRule", "dashboards", "labels", "runbookUrl"}),
    ],
)
def test_the_inputs_a_consumer_must_understand_are_described_in_the_schema(component: str, inputs: set[str]) -> None:
    """A consumer in another language reads the schema, not this code: the component docstrings reach it."""
    properties = json.loads(SCHEMA_FILE.read_text())["resources"][f"rocketchat:index:{component}"]["inputProperties"]
    assert inputs <= set(properties)
    assert sorted(k for k in inputs if not properties[k].get("description")) == []
