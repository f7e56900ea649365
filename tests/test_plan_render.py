"""tools.plan.render: a stack's objects under their keys, its Release values and the chart's render, Secret values
redacted; written as YAML files by `python -m tools.plan render` (tools.plan.cli)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from components.quantity import parse_quantity
from tests.plan_support import CHART_DIR, needs_chart, secret_values
from tools.engine import reveal, run_program
from tools.plan.cli import main
from tools.plan.errors import PlanError
from tools.plan.render import object_key, redact_secret_data, render_stack, write_render
from tools.plan.summary import summary_line


def test_keys_name_kind_namespace_and_name() -> None:
    assert object_key({"kind": "Service", "metadata": {"name": "web", "namespace": "rc"}}) == "Service/rc/web"
    assert object_key({"kind": "Service", "metadata": {"name": "web"}}, "rc") == "Service/rc/web"
    assert object_key({"kind": "Namespace", "metadata": {"name": "rc"}}) == "Namespace/rc"


def test_chart_secrets_keep_their_keys_and_lose_their_values() -> None:
    secret = {"kind": "Secret", "data": {"mongo-uri": "bW9uZ28="}, "stringData": {"license": "text"}}
    assert redact_secret_data(secret) == {
        "kind": "Secret",
        "data": {"mongo-uri": "<redacted>"},
        "stringData": {"license": "<redacted>"},
    }
    assert redact_secret_data({"kind": "Secret", "data": None}) == {"kind": "Secret", "data": None}


def read_tree(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.rglob("*.yaml")))


def test_render_writes_every_object_and_a_summary_without_secret_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "dev")]) == 0
    line = capsys.readouterr().out.strip()

    recording = run_program("dev")
    kubernetes = [r for r in recording.resources if r.type.startswith("kubernetes:")]
    files = sorted(p.name for p in (tmp_path / "dev").glob("*.yaml"))
    assert files == sorted(f"{r.kind.lower()}-{r.k8s_name}.yaml" for r in kubernetes)
    pods = sum(reveal(r.inputs)["spec"].get("replicas", 1) for r in recording.of_type("Deployment"))
    pods += sum(reveal(r.inputs)["spec"].get("replicas", 1) for r in recording.of_type("StatefulSet"))
    kinds = Counter(r.kind for r in kubernetes)
    by_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    assert line.startswith(f"dev: {len(kubernetes)} objects ({by_kind}) | {pods} pods | requests cpu ")
    assert kinds["Deployment"] >= 5 and kinds["StatefulSet"] >= 2  # the monolith, four services, NATS, MongoDB

    text = read_tree(tmp_path / "dev")
    secrets = secret_values("dev")
    assert secrets and not [s for s in secrets if s in text]
    assert "<redacted>" in text

    assert main(["render", "--stack", "dev", "--out", str(tmp_path / "shown"), "--show-secrets"]) == 0
    shown = read_tree(tmp_path / "shown")
    assert [s for s in secrets if s in shown]  # the redaction above had something to hide


def test_one_more_monolith_pod_adds_exactly_its_requests_to_the_summary() -> None:
    before = render_stack("dev").summary
    after = render_stack("dev", {"rocketchat:monolith": {"replicas": 2}}).summary
    monolith = reveal(run_program("dev").one("Deployment", "rocketchat-rocketchat").inputs)
    requests = monolith["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert after.pods == before.pods + 1
    assert after.requests_cpu - before.requests_cpu == parse_quantity(requests["cpu"])
    assert after.requests_memory - before.requests_memory == parse_quantity(requests["memory"])


def test_helm_render_writes_the_release_values_and_says_the_chart_was_not_counted(tmp_path: Path) -> None:
    rendered = render_stack("prod")
    write_render(rendered, tmp_path / "prod")
    values = yaml.safe_load((tmp_path / "prod" / "rocketchat.values.yaml").read_text())
    release = run_program("prod").of_type("Release")[0]
    assert values == reveal(release.inputs)["values"]
    assert "Release/rocketchat/rocketchat (values)" in rendered.by_key()
    assert rendered.summary.kinds["Release"] == 1
    assert "chart of release rocketchat not rendered" in summary_line("prod", rendered.summary)


def test_render_clears_its_own_directory_and_refuses_someone_elses(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_render(render_stack("dev"), out)
    stale = out / "deployment-gone.yaml"
    stale.write_text("kind: Deployment\n")
    write_render(render_stack("dev"), out)
    assert not stale.exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(PlanError, match="not empty"):
        write_render(render_stack("dev"), foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


@needs_chart
def test_with_the_chart_render_adds_its_workloads_to_the_cost_and_redacts_its_secrets(tmp_path: Path) -> None:
    rendered = render_stack("prod", chart_dir=Path(CHART_DIR))
    chart_objects = [o for o in rendered.objects if o.source == "chart:rocketchat"]
    deployments = {
        o.document["metadata"]["name"]: o.document for o in chart_objects if o.document["kind"] == "Deployment"
    }
    replicas = run_program("prod").outputs["replicas"]
    assert deployments["rocketchat-rocketchat"]["spec"]["replicas"] == replicas["rocketchat"]
    assert deployments["rocketchat-ddp-streamer"]["spec"]["replicas"] == replicas["ddp-streamer"]
    assert rendered.summary.pods == sum(replicas.values())  # chart workloads plus our NATS
    for secret in (o.document for o in chart_objects if o.document["kind"] == "Secret"):
        assert all(v == "<redacted>" for v in (secret.get("data") or {}).values())
    paths = write_render(rendered, tmp_path / "prod")
    assert (tmp_path / "prod" / "chart-rocketchat" / "deployment-rocketchat-rocketchat.yaml") in paths


def test_render_json_is_what_diff_reads(tmp_path: Path) -> None:
    assert main(["render", "--stack", "dev", "--json", str(tmp_path / "dev.json")]) == 0
    document = json.loads((tmp_path / "dev.json").read_text())
    assert document["summaryLine"].startswith("dev: ")
    keys = [o["key"] for o in document["objects"]]
    assert len(keys) == len(set(keys)) and "Ingress/rocketchat-dev/rocketchat" in keys
