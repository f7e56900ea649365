"""tools.plan: quantities, the cost summary and the object diff as pure functions; then `render` and `diff` for real.

`diff` runs end to end, from the command line, in a throwaway git repository holding a copy of this project: one
commit as the base, then a --set override on the working tree, as in a pull request.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.passwords import PASSWORD_TYPE
from tools import plan
from tools.engine import PLACEHOLDER_SECRETS, reveal, run_program

PROJECT = Path(__file__).resolve().parent.parent
CHART_DIR = os.environ.get(plan.CHART_DIR_ENV)
needs_chart = pytest.mark.skipif(
    not CHART_DIR, reason=f"set {plan.CHART_DIR_ENV} to the official chart's directory (scripts/fetch-chart)"
)

# ---------------------------------------------------------------------------------------------------------
# Quantities
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250m", Decimal("0.25")),
        ("1", Decimal(1)),
        (2, Decimal(2)),
        (0.5, Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("100u", Decimal("0.0001")),
        ("512Mi", Decimal(512 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("1Ki", Decimal(1024)),
        ("2k", Decimal(2000)),
        ("128M", Decimal(128_000_000)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),  # an exponent, not exa followed by junk
        ("2E", Decimal(2 * 10**18)),  # exa
        ("5e-1", Decimal("0.5")),
    ],
)
def test_quantities_parse_to_exact_amounts(text: str | int | float, expected: Decimal) -> None:
    assert plan.parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "Mi", "1.2.3", "10 Mi", "1mi", "1KB", "1MiB", "-", "0x10", True, None])
def test_malformed_quantities_are_refused(text: Any) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        plan.parse_quantity(text)


def test_amounts_print_the_way_people_read_them() -> None:
    assert plan.format_cpu(Decimal("0.25")) == "250m"
    assert plan.format_cpu(Decimal("1.35")) == "1.35"
    assert plan.format_cpu(Decimal(3)) == "3"
    assert plan.format_cpu(Decimal(0)) == "0"
    assert plan.format_bytes(Decimal(512 * 2**20)) == "512Mi"
    assert plan.format_bytes(Decimal(13 * 2**30 + 2**29)) == "13.5Gi"
    assert plan.format_bytes(Decimal(0)) == "0"


# ---------------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------------


def container(name: str, requests: dict[str, Any], limits: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {"name": name, "resources": {"requests": requests, "limits": limits or {}}, **extra}


def workload(kind: str, replicas: int | None, containers: list[dict], **pod: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"containers": containers, **pod}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": kind.lower()}, "spec": spec}


def test_summary_multiplies_each_pod_by_its_replicas_and_counts_every_kind() -> None:
    deployment = workload(
        "Deployment",
        3,
        [
            container("app", {"cpu": "250m", "memory": "512Mi"}, {"memory": "1Gi"}),
            container("proxy", {"cpu": "50m", "memory": "64Mi"}, {"cpu": "100m", "memory": "128Mi"}),
        ],
    )
    statefulset = workload("StatefulSet", None, [container("db", {"cpu": 1, "memory": "2Gi"}, {"memory": "2Gi"})])
    statefulset["spec"]["volumeClaimTemplates"] = [{"spec": {"resources": {"requests": {"storage": "8Gi"}}}}]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"replicas": 99}}

    summary = plan.summarize([deployment, statefulset, service])

    assert dict(summary.kinds) == {"Deployment": 1, "StatefulSet": 1, "Service": 1}
    assert summary.pods == 4  # a StatefulSet without replicas runs one; a Service runs none
    assert summary.requests_cpu == Decimal("1.9")  # 3 x (250m + 50m) + 1
    assert summary.requests_memory == 3 * (512 + 64) * 2**20 + 2 * 2**30
    assert summary.limits_cpu == Decimal("0.3")  # only the proxy has a CPU limit
    assert summary.limits_memory == 3 * (1024 + 128) * 2**20 + 2 * 2**30
    assert (summary.containers, summary.without_cpu_limit, summary.without_memory_limit) == (3, 2, 0)
    assert summary.storage == 8 * 2**30


def test_an_init_container_counts_only_when_it_outweighs_the_app_containers() -> None:
    small_init = workload(
        "Deployment",
        2,
        [container("app", {"cpu": "500m", "memory": "1Gi"})],
        initContainers=[container("migrate", {"cpu": "2", "memory": "256Mi"})],
    )
    summary = plan.summarize([small_init])
    assert summary.requests_cpu == 4  # the init container's 2 cores outweigh the app's 500m, per pod
    assert summary.requests_memory == 2 * 2**30  # the app's 1Gi outweighs the init container's 256Mi
    sidecar = workload(
        "Deployment",
        1,
        [container("app", {"cpu": "500m", "memory": "1Gi"})],
        initContainers=[container("log", {"cpu": "100m", "memory": "64Mi"}, restartPolicy="Always")],
    )
    assert plan.summarize([sidecar]).requests_cpu == Decimal("0.6")  # a sidecar runs beside the app


def test_summary_line_names_counts_pods_and_totals() -> None:
    summary = plan.summarize(
        [workload("Deployment", 2, [container("app", {"cpu": "250m", "memory": "256Mi"}, {"memory": "512Mi"})])]
    )
    line = plan.summary_line("dev", summary)
    assert line == (
        "dev: 1 objects (Deployment 1) | 2 pods | requests cpu 500m memory 512Mi | limits cpu none memory 1Gi"
        " | storage 0"
    )


# ---------------------------------------------------------------------------------------------------------
# Object diff
# ---------------------------------------------------------------------------------------------------------


def test_object_diff_counts_and_patches_added_removed_and_changed_objects() -> None:
    base = {
        "Deployment/ns/a": {"kind": "Deployment", "spec": {"replicas": 1, "paused": False}},
        "Service/ns/b": {"kind": "Service", "spec": {"ports": [80]}},
        "Secret/ns/c": {"kind": "Secret"},
    }
    head = {
        # the same object with its keys in another order: not a change
        "Service/ns/b": {"spec": {"ports": [80]}, "kind": "Service"},
        "Deployment/ns/a": {"spec": {"paused": False, "replicas": 2}, "kind": "Deployment"},
        "ConfigMap/ns/d": {"kind": "ConfigMap", "data": {"k": "v"}},
    }
    result = plan.diff_objects(base, head)
    assert (result.changed, result.added, result.removed, result.unchanged) == (
        ["Deployment/ns/a"],
        ["ConfigMap/ns/d"],
        ["Secret/ns/c"],
        1,
    )
    assert result.counts() == "1 changed, 1 added, 1 removed (1 unchanged)"
    patch = result.patches["Deployment/ns/a"]
    assert patch.startswith("--- a/Deployment/ns/a\n+++ b/Deployment/ns/a\n")
    assert "-  replicas: 1\n+  replicas: 2\n" in patch
    assert result.patches["ConfigMap/ns/d"].startswith("--- /dev/null\n+++ b/ConfigMap/ns/d\n")
    assert result.patches["Secret/ns/c"].startswith("--- a/Secret/ns/c\n+++ /dev/null\n")
    assert set(result.patches) == {"Deployment/ns/a", "ConfigMap/ns/d", "Secret/ns/c"}
    assert plan.diff_objects(head, head).empty


def test_keys_name_kind_namespace_and_name() -> None:
    assert plan.object_key({"kind": "Service", "metadata": {"name": "web", "namespace": "rc"}}) == "Service/rc/web"
    assert plan.object_key({"kind": "Service", "metadata": {"name": "web"}}, "rc") == "Service/rc/web"
    assert plan.object_key({"kind": "Namespace", "metadata": {"name": "rc"}}) == "Namespace/rc"


def test_chart_secrets_keep_their_keys_and_lose_their_values() -> None:
    secret = {"kind": "Secret", "data": {"mongo-uri": "bW9uZ28="}, "stringData": {"license": "text"}}
    assert plan.redact_secret_data(secret) == {
        "kind": "Secret",
        "data": {"mongo-uri": "<redacted>"},
        "stringData": {"license": "<redacted>"},
    }
    assert plan.redact_secret_data({"kind": "Secret", "data": None}) == {"kind": "Secret", "data": None}


# ---------------------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------------------


def secret_values(stack: str) -> set[str]:
    """Every secret value the program handles for `stack` (placeholders and generated passwords), revealed."""
    values = set(PLACEHOLDER_SECRETS.values())
    for resource in run_program(stack).of_type("Secret"):
        values |= {v for v in (reveal(resource.inputs).get("stringData") or {}).values() if isinstance(v, str)}
    values |= {f"generated-{r.name}" for r in run_program(stack).of_type(PASSWORD_TYPE)}
    return {v for v in values if len(v) > 8}


def read_tree(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.rglob("*.yaml")))


def test_render_writes_every_object_and_a_summary_without_secret_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main(["render", "--stack", "dev", "--out", str(tmp_path / "dev")]) == 0
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

    assert plan.main(["render", "--stack", "dev", "--out", str(tmp_path / "shown"), "--show-secrets"]) == 0
    shown = read_tree(tmp_path / "shown")
    assert [s for s in secrets if s in shown]  # the redaction above had something to hide


def test_one_more_monolith_pod_adds_exactly_its_requests_to_the_summary() -> None:
    before = plan.render_stack("dev").summary
    after = plan.render_stack("dev", {"rocketchat:monolith": {"replicas": 2}}).summary
    monolith = reveal(run_program("dev").one("Deployment", "rocketchat-rocketchat").inputs)
    requests = monolith["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert after.pods == before.pods + 1
    assert after.requests_cpu - before.requests_cpu == plan.parse_quantity(requests["cpu"])
    assert after.requests_memory - before.requests_memory == plan.parse_quantity(requests["memory"])


def test_helm_render_writes_the_release_values_and_says_the_chart_was_not_counted(tmp_path: Path) -> None:
    rendered = plan.render_stack("prod")
    plan.write_render(rendered, tmp_path / "prod")
    values = yaml.safe_load((tmp_path / "prod" / "rocketchat.values.yaml").read_text())
    release = run_program("prod").of_type("Release")[0]
    assert values == reveal(release.inputs)["values"]
    assert "Release/rocketchat/rocketchat (values)" in rendered.by_key()
    assert rendered.summary.kinds["Release"] == 1
    assert "chart of release rocketchat not rendered" in plan.summary_line("prod", rendered.summary)


def test_render_clears_its_own_directory_and_refuses_someone_elses(tmp_path: Path) -> None:
    out = tmp_path / "out"
    plan.write_render(plan.render_stack("dev"), out)
    stale = out / "deployment-gone.yaml"
    stale.write_text("kind: Deployment\n")
    plan.write_render(plan.render_stack("dev"), out)
    assert not stale.exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(plan.PlanError, match="not empty"):
        plan.write_render(plan.render_stack("dev"), foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


@needs_chart
def test_with_the_chart_render_adds_its_workloads_to_the_cost_and_redacts_its_secrets(tmp_path: Path) -> None:
    rendered = plan.render_stack("prod", chart_dir=Path(CHART_DIR))
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
    paths = plan.write_render(rendered, tmp_path / "prod")
    assert (tmp_path / "prod" / "chart-rocketchat" / "deployment-rocketchat-rocketchat.yaml") in paths


# ---------------------------------------------------------------------------------------------------------
# diff, in a throwaway repository
# ---------------------------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, *, with_tools: bool = True, stacks: tuple[str, ...] = ("dev", "prod")) -> Path:
    """A git repository whose one commit holds this project's program, stack files and (optionally) tools."""
    repo = root / "repo"
    repo.mkdir()
    for name in ("__main__.py", "Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in stacks)):
        shutil.copy(PROJECT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PROJECT / "components", repo / "components", ignore=ignore)
    if with_tools:
        shutil.copytree(PROJECT / "tools", repo / "tools", ignore=ignore)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    return repo


def run_diff(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != plan.CHART_DIR_ENV}
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", "diff", *args], cwd=repo, env=env, capture_output=True, text=True
    )


def changed_keys(output: str) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {"changed": set(), "added": set(), "removed": set()}
    for line in output.splitlines():
        title, _, key = line.strip().partition(": ")
        if line.startswith("  ") and title in keys:
            keys[title].add(key)
    return keys


def test_a_replica_change_diffs_as_exactly_the_objects_it_touches() -> None:
    # What `diff` does with its two renders, in-process (git export, subprocesses and the CLI: the next tests).
    services = yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())["config"]["rocketchat:services"]
    services["presence"]["replicas"] = 2
    before = json.loads(json.dumps(plan.render_stack("dev").to_json()))
    after = json.loads(json.dumps(plan.render_stack("dev", {"rocketchat:services": services}).to_json()))

    out = plan.format_text(plan.compare_renders("dev", "HEAD", before, after))
    assert out.splitlines()[0].startswith("dev against HEAD: 1 changed, 1 added, 0 removed (")
    assert changed_keys(out) == {
        "changed": {"Deployment/rocketchat-dev/rocketchat-presence"},
        "added": {"PodDisruptionBudget/rocketchat-dev/rocketchat-presence"},  # guarded from two replicas on
        "removed": set(),
    }
    assert "-  replicas: 1\n+  replicas: 2\n" in out
    assert "| 7 pods |" in out.splitlines()[1] and "| 8 pods |" in out.splitlines()[2]
    secrets = secret_values("dev")
    assert not [s for s in secrets if s in out]


def test_diff_of_a_host_change_shows_the_ingress_and_release_values_and_no_secret(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, with_tools=False)  # a base that predates tools/: the working tree's tools render it
    shutil.copytree(PROJECT / "tools", repo / "tools", ignore=shutil.ignore_patterns("__pycache__"))

    chart = ["--chart-dir", CHART_DIR] if CHART_DIR else []
    result = run_diff(repo, "--stack", "prod", "--base", "HEAD", "--set", "rocketchat:host=chat.example.org", *chart)
    assert result.returncode == 0, result.stderr  # the command line, end to end
    expected = {"Ingress/rocketchat/rocketchat", "Release/rocketchat/rocketchat (values)"}
    if CHART_DIR:  # the chart puts the host in the monolith's ROOT_URL only (its own Ingress is off)
        expected.add("chart rocketchat: Deployment/rocketchat/rocketchat-rocketchat")
    assert changed_keys(result.stdout) == {"changed": expected, "added": set(), "removed": set()}
    assert "-  - host: chat.example.com\n+  - host: chat.example.org\n" in result.stdout
    assert not [s for s in secret_values("prod") if s in result.stdout]


def test_diff_explains_a_base_without_the_stack_or_an_unknown_revision(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, stacks=("dev",))
    shutil.copy(PROJECT / "Pulumi.prod.yaml", repo / "Pulumi.prod.yaml")

    missing = run_diff(repo, "--stack", "prod", "--base", "HEAD")
    assert missing.returncode == 2
    assert "has no Pulumi.prod.yaml (the stack file of 'prod')" in missing.stderr
    assert "Traceback" not in missing.stderr

    unknown = run_diff(repo, "--stack", "dev", "--base", "origin/no-such-branch")
    assert unknown.returncode == 2
    assert "unknown revision 'origin/no-such-branch'" in unknown.stderr


def test_markdown_output_fits_a_comment_and_keeps_the_counts_first() -> None:
    result = plan.ObjectDiff(changed=["Deployment/rc/big"], patches={"Deployment/rc/big": "+x\n" * 40_000})
    text = plan.format_markdown(plan.PlanDiff("prod", "origin/main", result, "base line", "head line"), 1000)
    assert text.startswith("#### Manifest diff: `prod` against `origin/main`\n\n**1 changed, 0 added, 0 removed")
    assert len(text) < 2000
    assert "(cut; run `python -m tools.plan diff` for all of it)" in text
    assert text.rstrip().endswith("</details>")


def test_markdown_says_so_when_nothing_changed() -> None:
    result = plan.diff_objects({"Service/rc/a": {"kind": "Service"}}, {"Service/rc/a": {"kind": "Service"}})
    text = plan.format_markdown(plan.PlanDiff("dev", "HEAD", result, "same | line", "same | line"))
    assert "**0 changed, 0 added, 0 removed (1 unchanged)**" in text
    assert "No Kubernetes object changes." in text and "```diff" not in text
    assert "- base: `same | line`" in text  # in a list, not a table: the summary's pipes stay intact


def test_render_json_is_what_diff_reads(tmp_path: Path) -> None:
    assert plan.main(["render", "--stack", "dev", "--json", str(tmp_path / "dev.json")]) == 0
    document = json.loads((tmp_path / "dev.json").read_text())
    assert document["summaryLine"].startswith("dev: ")
    keys = [o["key"] for o in document["objects"]]
    assert len(keys) == len(set(keys)) and "Ingress/rocketchat-dev/rocketchat" in keys
