"""The stack's alerts (components/alerts.py): their shape, and Prometheus's own promtool on them.

- `promtool check rules --lint=all --lint-fatal` on the rule file `prometheus_rule_spec` returns;
- `promtool test rules` on a unit-test file written here from the cases below: for every alert, synthetic series
  on which it fires (with the exact labels and annotations promtool must see) and healthy series on which it stays
  quiet. A test checks that every alert of the rule file has both, so an alert added without cases fails.

Both run for two stacks: raw mode on a version that needs stream-hub, with the exporter's default metric names, and
helm mode (workloads named after the release, the chart's bundled NATS with `-prefix=nats`, no stream-hub).
The promtool tests skip, saying how to build it, when `scripts/promtool` has not been run; what promtool printed is
kept in build/monitoring/ (and printed: `pytest -s` or `-rP` shows it).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components import alerts
from components.alerts import alert_names, prometheus_rule_spec
from components.monitoring import NATS_CHART, WORKLOAD_NAMES, MonitoredStack
from components.planning import USERS_PER_DDP_STREAMER
from tools import promtool

STACKS: dict[str, MonitoredStack] = {
    "raw": MonitoredStack(
        namespace="chat",
        instance="rocketchat",
        stream_hub_required=True,
        runbook_url="https://docs.example.org/rocketchat/monitoring",
    ),
    "helm": MonitoredStack(
        namespace="rocketchat",
        instance="rocketchat",
        workload_prefix="rocketchat-chart",
        workloads=tuple(w for w in WORKLOAD_NAMES if w != "stream-hub"),
        nats_statefulset="rocketchat-chart-nats",
        nats_metrics=NATS_CHART,
    ),
}
KSM = 'job="kube-state-metrics"'


@dataclass
class Case:
    """One promtool test group: series, and what one alert does at `eval_time` (fires: the alerts expected)."""

    alert: str
    name: str
    series: list[tuple[str, str]]
    eval_time: str
    fires: list[tuple[dict[str, str], str | None]] = field(default_factory=list)
    """Each expected alert: its labels without the rule's own, and the `$value` its annotations render (or None)."""

    @property
    def firing(self) -> bool:
        return bool(self.fires)


def render(template: str, labels: dict[str, str], value: str | None) -> str:
    """The text Prometheus makes of an annotation template that uses only `{{ $labels.x }}` and `{{ $value }}`."""

    def one(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref == "$value":
            assert value is not None, f"{template!r} renders $value: the case must say what it is"
            return value
        assert ref.startswith("$labels."), f"unexpected template reference {ref} in {template!r}"
        return labels[ref.removeprefix("$labels.")]

    text = re.sub(r"\{\{ (\$[a-z_.]+) \}\}", one, template)
    assert "{{" not in text, f"a template form the test cannot render: {template!r}"
    return text


def cases(stack: MonitoredStack) -> list[Case]:
    """Firing and quiet cases for every alert of this stack, in its own names."""
    ns, p, sts = stack.namespace, stack.prefix, stack.nats_statefulset
    nats = stack.nats_metrics

    def ksm_sts(metric: str, values: str) -> tuple[str, str]:
        return f'{metric}{{namespace="{ns}", statefulset="{sts}", {KSM}}}', values

    def ksm_deploy(metric: str, workload: str, values: str, prefix: str = p, namespace: str = ns) -> tuple[str, str]:
        return f'{metric}{{namespace="{namespace}", deployment="{prefix}-{workload}", {KSM}}}', values

    def deployments(available: dict[str, str], wanted: dict[str, str] | None = None) -> list[tuple[str, str]]:
        wanted = wanted or {}
        out = []
        for w in stack.workloads:
            out.append(ksm_deploy("kube_deployment_status_replicas_available", w, available.get(w, "1x30")))
            out.append(ksm_deploy("kube_deployment_spec_replicas", w, wanted.get(w, "1x30")))
        return out

    def nats_series(metric: str, values: dict[int, str]) -> list[tuple[str, str]]:
        return [
            (f'{metric}{{namespace="{ns}", pod="{sts}-{i}", server_id="N{i}SERVERID", job="nats"}}', v)
            for i, v in values.items()
        ]

    def pod(workload: str, n: int = 0) -> str:
        return f"{p}-{workload}-7d9f8c6b5{n}-x{n}k2q"

    sts_labels = {"namespace": ns, "statefulset": sts, "job": "kube-state-metrics"}
    out = [
        # --- NATS -----------------------------------------------------------------------------------------------
        Case(
            "RocketChatNatsDown",
            "no server ready while 3 are wanted",
            [ksm_sts("kube_statefulset_status_replicas_ready", "0x30"), ksm_sts("kube_statefulset_replicas", "3x30")],
            "5m",
            [(sts_labels, None)],
        ),
        Case(
            "RocketChatNatsDown",
            "all 3 servers ready",
            [ksm_sts("kube_statefulset_status_replicas_ready", "3x30"), ksm_sts("kube_statefulset_replicas", "3x30")],
            "5m",
        ),
        Case(
            "RocketChatNatsDown",
            "scaled to zero on purpose",
            [ksm_sts("kube_statefulset_status_replicas_ready", "0x30"), ksm_sts("kube_statefulset_replicas", "0x30")],
            "5m",
        ),
        Case(
            "RocketChatNatsDegraded",
            "2 of 3 servers ready for 15 minutes",
            [ksm_sts("kube_statefulset_status_replicas_ready", "2x30"), ksm_sts("kube_statefulset_replicas", "3x30")],
            "15m",
            # A one-to-one comparison `on (namespace, statefulset)` keeps only those labels (not `job`).
            [({"namespace": ns, "statefulset": sts}, "2")],
        ),
        Case(
            "RocketChatNatsDegraded",
            "one server rolling for 5 minutes, then all ready",
            [
                ksm_sts("kube_statefulset_status_replicas_ready", "2x5 3x25"),
                ksm_sts("kube_statefulset_replicas", "3x30"),
            ],
            "15m",
        ),
        Case(
            "RocketChatNatsDegraded",
            "none ready is RocketChatNatsDown, not this",
            [ksm_sts("kube_statefulset_status_replicas_ready", "0x30"), ksm_sts("kube_statefulset_replicas", "3x30")],
            "15m",
        ),
        Case(
            "RocketChatNatsRouteLost",
            f"{sts}-2 holds 4 of its 8 route connections",
            [
                ksm_sts("kube_statefulset_replicas", "3x30"),
                *nats_series(nats.routez("num_routes"), {0: "8x30", 1: "8x30", 2: "4x30"}),
            ],
            "10m",
            [({"namespace": ns, "pod": f"{sts}-2"}, "4")],
        ),
        Case(
            "RocketChatNatsRouteLost",
            "full mesh of 3 servers (8 routes each)",
            [
                ksm_sts("kube_statefulset_replicas", "3x30"),
                *nats_series(nats.routez("num_routes"), {0: "8x30", 1: "8x30", 2: "8x30"}),
            ],
            "10m",
        ),
        Case(
            "RocketChatNatsRouteLost",
            "a single server has no routes to hold",
            [ksm_sts("kube_statefulset_replicas", "1x30"), *nats_series(nats.routez("num_routes"), {0: "0x30"})],
            "10m",
        ),
        Case(
            "RocketChatNatsSlowConsumers",
            f"{sts}-1 cuts off 3 slow consumers",
            nats_series(nats.varz("slow_consumers"), {0: "0x30", 1: "0x5 3x25"}),
            "9m",
            [({"namespace": ns, "pod": f"{sts}-1"}, None)],
        ),
        Case(
            "RocketChatNatsSlowConsumers",
            "old slow consumers, none new; a restarted server back at 0",
            nats_series(nats.varz("slow_consumers"), {0: "2x30", 1: "2x10 0x20"}),
            "15m",
        ),
        # --- workloads ------------------------------------------------------------------------------------------
        Case(
            "RocketChatWorkloadUnavailable",
            "presence has no available pod for 10 minutes",
            deployments({"presence": "0x30"}),
            "10m",
            [({"namespace": ns, "deployment": f"{p}-presence", "job": "kube-state-metrics"}, None)],
        ),
        Case(
            "RocketChatWorkloadUnavailable",
            "every workload available; presence scaled to zero; another stack's presence down",
            [
                *deployments({"presence": "0x30"}, {"presence": "0x30"}),
                ksm_deploy("kube_deployment_status_replicas_available", "presence", "0x30", prefix="other"),
                ksm_deploy("kube_deployment_spec_replicas", "presence", "1x30", prefix="other"),
                ksm_deploy("kube_deployment_status_replicas_available", "presence", "0x30", namespace="elsewhere"),
                ksm_deploy("kube_deployment_spec_replicas", "presence", "1x30", namespace="elsewhere"),
            ],
            "10m",
        ),
        Case(
            "RocketChatMongoUnreachable",
            "presence fails requests with MongoServerSelectionError",
            [
                (
                    (
                        f'moleculer_request_error_total{{namespace="{ns}", pod="{pod("presence")}", '
                        'service="presence", action="presence.newConnection", type="local", caller="streamer", '
                        'errorName="MongoServerSelectionError", errorCode="", errorType="", nodeID="presence-1"}'
                    ),
                    "0+2x30",
                )
            ],
            "10m",
            [({"namespace": ns, "pod": pod("presence")}, None)],
        ),
        Case(
            "RocketChatMongoUnreachable",
            "MongoDB answers (duplicate keys are query errors); old connection errors, none new",
            [
                (
                    (
                        f'moleculer_request_error_total{{namespace="{ns}", pod="{pod("account")}", '
                        'service="account", action="account.login", type="local", errorName="MongoServerError"}'
                    ),
                    "0+5x30",
                ),
                (
                    (
                        f'moleculer_request_error_total{{namespace="{ns}", pod="{pod("presence")}", '
                        'service="presence", action="presence.newConnection", type="local", '
                        'errorName="MongoServerSelectionError"}'
                    ),
                    "7x30",
                ),
            ],
            "10m",
        ),
    ]
    if stack.stream_hub_required:
        others = [w for w in stack.workloads if w != "stream-hub"]
        without_stream_hub = [s for s in deployments({}) if f'"{p}-stream-hub"' not in s[0]]
        assert len(without_stream_hub) == 2 * len(others)
        stream_hub = {"namespace": ns, "deployment": f"{p}-stream-hub"}
        out += [
            Case(
                "RocketChatStreamHubMissing",
                "its Deployment is gone while the others are there",
                without_stream_hub,
                "10m",
                [(stream_hub, None)],
            ),
            Case(
                "RocketChatStreamHubMissing",
                "scaled to zero",
                deployments({"stream-hub": "0x30"}, {"stream-hub": "0x30"}),
                "10m",
                [(stream_hub, None)],
            ),
            Case("RocketChatStreamHubMissing", "running with its one pod", deployments({}), "10m"),
            Case(
                "RocketChatStreamHubMissing",
                "kube-state-metrics reports nothing in the namespace (it is down: not stream-hub's absence)",
                [('up{job="kube-state-metrics"}', "0x30")],
                "10m",
            ),
        ]
    if stack.runs_ddp_streamer:
        budget = stack.ddp_streamer_budget

        def connected(n: int, values: str) -> tuple[str, str]:
            return (
                (
                    f'users_connected{{namespace="{ns}", pod="{pod("ddp-streamer", n)}", nodeID="ddp-{n}", '
                    'job="rocketchat-moleculer"}'
                ),
                values,
            )

        out += [
            Case(
                "RocketChatDdpStreamerOverBudget",
                f"one pod holds {budget + 120} connections for 20 minutes",
                [connected(0, f"{budget + 120}x30"), connected(1, "300x30")],
                "20m",
                [({"namespace": ns, "pod": pod("ddp-streamer", 0)}, str(budget + 120))],
            ),
            Case(
                "RocketChatDdpStreamerOverBudget",
                "within budget; a 10-minute peak over it",
                [connected(0, f"{budget - 50}x30"), connected(1, f"{budget + 120}x10 {budget - 20}x20")],
                "20m",
            ),
        ]
    return out


def unit_test_file(stack: MonitoredStack, rule_file: str) -> dict[str, Any]:
    """The promtool unit-test file for the cases of this stack."""
    rules = {r["alert"]: r for g in prometheus_rule_spec(stack)["groups"] for r in g["rules"]}
    tests = []
    for case in cases(stack):
        rule = rules[case.alert]
        expected = []
        for labels, value in case.fires:
            every_label = {**labels, **rule["labels"]}
            annotations = {k: render(v, every_label, value) for k, v in rule["annotations"].items()}
            expected.append({"exp_labels": every_label, "exp_annotations": annotations})
        tests.append(
            {
                "name": f"{case.alert} {'fires' if case.firing else 'stays quiet'}: {case.name}",
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series],
                "alert_rule_test": [{"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}],
            }
        )
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


# --- always: the rules' shape and the cases' coverage ------------------------------------------------------------


@pytest.mark.parametrize("variant", STACKS)
def test_every_alert_has_a_firing_and_a_quiet_case(variant: str) -> None:
    stack = STACKS[variant]
    names = alert_names(prometheus_rule_spec(stack))
    assert len(names) == len(set(names))
    covered = {name: {c.firing for c in cases(stack) if c.alert == name} for name in names}
    assert covered == {name: {True, False} for name in names}
    assert {c.alert for c in cases(stack)} <= set(names)


@pytest.mark.parametrize("variant", STACKS)
def test_every_alert_is_complete_and_reads_like_a_runbook(variant: str) -> None:
    stack = STACKS[variant]
    spec = prometheus_rule_spec(stack)
    assert [g["name"] for g in spec["groups"]] == [
        f"rocketchat-{stack.instance}-{n}" for n in ("bus", "workloads", "capacity")
    ]
    for group in spec["groups"]:
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
            assert re.fullmatch(r"RocketChat[A-Z][A-Za-z]+", rule["alert"])
            assert re.fullmatch(r"\d+m", rule["for"])
            assert rule["labels"] == {
                "severity": rule["labels"]["severity"],
                "rocketchat_instance": stack.instance,
            }
            assert rule["labels"]["severity"] in {"critical", "warning"}
            notes = rule["annotations"]
            assert set(notes) == {"summary", "description"} | ({"runbook_url"} if stack.runbook_url else set())
            assert "\n" not in notes["summary"] and len(notes["summary"]) < 140
            paragraphs = notes["description"].split("\n")
            assert [p.split(":")[0] for p in paragraphs] == ["What it means", "Check", "Do"], rule["alert"]
            if stack.runbook_url:
                assert notes["runbook_url"] == f"{stack.runbook_url}#{rule['alert'].lower()}"
            # The expression stays inside the stack: every selector names its namespace.
            selectors = re.findall(r"[a-z_]+\{([^}]*)\}", rule["expr"])
            assert selectors and all(f'namespace="{stack.namespace}"' in s for s in selectors), rule["alert"]


def test_the_alerts_follow_the_stack() -> None:
    raw, helm = prometheus_rule_spec(STACKS["raw"]), prometheus_rule_spec(STACKS["helm"])
    assert "RocketChatStreamHubMissing" in alert_names(raw)
    assert "RocketChatStreamHubMissing" not in alert_names(helm)
    text = json.dumps(helm)
    assert "nats_routez_num_routes" in text and "gnatsd_" not in text
    assert 'pod=~\\"rocketchat-chart-nats-[0-9]+\\"' in text
    assert 'deployment=~\\"rocketchat-chart-(rocketchat|account|authorization|presence|ddp-streamer)\\"' in text
    assert "gnatsd_routez_num_routes" in json.dumps(raw)
    monolith_only = MonitoredStack(namespace="chat", instance="rc", workloads=("rocketchat",))
    assert "RocketChatDdpStreamerOverBudget" not in alert_names(prometheus_rule_spec(monolith_only))
    budget = MonitoredStack(namespace="chat", instance="rc", ddp_streamer_budget=350)
    (rule,) = [r for g in prometheus_rule_spec(budget)["groups"] for r in g["rules"] if "Ddp" in r["alert"]]
    assert rule["expr"].endswith("> 350") and "budget of 350" in rule["annotations"]["summary"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"namespace": "Chat"}, "namespace 'Chat' is not a Kubernetes name"),
        ({"workloads": ("rocketchat", "gateway")}, "each must be one of"),
        ({"workloads": ("account",)}, "every stack runs the monolith"),
        ({"ddp_streamer_budget": 0}, "positive"),
        ({"workload_prefix": "a.b"}, "workload prefix 'a.b'"),
    ],
)
def test_a_stack_that_cannot_be_watched_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MonitoredStack(**{"namespace": "chat", "instance": "rc", **fields})


def test_the_runbook_has_a_section_for_every_alert() -> None:
    """docs/monitoring.md has a heading per alert, in the rule file's order: the targets of the runbook_url anchors."""
    doc = (promtool.PROJECT_DIR / "docs" / "monitoring.md").read_text()
    headings = re.findall(r"^### (RocketChat\w+)$", doc, re.MULTILINE)
    assert headings == alert_names(prometheus_rule_spec(STACKS["raw"]))
    table = re.findall(r"^\| (RocketChat\w+) \|", doc, re.MULTILINE)
    assert table == headings


def test_the_default_budget_is_the_programs_ddp_streamer_sizing() -> None:
    assert MonitoredStack(namespace="chat", instance="rc").ddp_streamer_budget == USERS_PER_DDP_STREAMER == 500


def test_mongo_connection_errors_are_the_drivers_and_not_query_errors() -> None:
    assert "MongoServerError" not in alerts.MONGO_CONNECTION_ERRORS
    assert all(re.fullmatch(r"Mongo[A-Za-z]+Error", e) for e in alerts.MONGO_CONNECTION_ERRORS)


# --- promtool --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool_binary() -> Path:
    found = promtool.binary()
    if found is None:
        pytest.skip(promtool.HOW_TO_BUILD)
    return found


def junit_listing(path: Path) -> str:
    """`PASS`/`FAIL` and the name of every test group promtool ran, from its JUnit report."""
    lines = []
    for case in ET.parse(path).getroot().iter("testcase"):
        failed = case.find("failure") is not None
        lines.append(f"  {'FAIL' if failed else 'pass'}  {case.get('name')}")
    return "\n".join(lines)


@pytest.mark.tools
@pytest.mark.promtool
@pytest.mark.parametrize("variant", STACKS)
def test_promtool_checks_the_rules_and_every_alert_fires_and_stays_quiet(
    variant: str, promtool_binary: Path, tmp_path: Path
) -> None:
    stack = STACKS[variant]
    rule_file, test_file = f"rocketchat-alerts-{variant}.yaml", f"rocketchat-alerts-{variant}.test.yaml"
    rules_text = json.dumps(prometheus_rule_spec(stack), indent=2) + "\n"
    tests_text = json.dumps(unit_test_file(stack, rule_file), indent=2) + "\n"
    (tmp_path / rule_file).write_text(rules_text)
    (tmp_path / test_file).write_text(tests_text)

    check = promtool.run(promtool_binary, "check", "rules", "--lint=all", "--lint-fatal", rule_file, cwd=tmp_path)
    test = promtool.run(promtool_binary, "test", "rules", "--junit=junit.xml", test_file, cwd=tmp_path)
    listing = junit_listing(tmp_path / "junit.xml") if (tmp_path / "junit.xml").exists() else "(no JUnit report)"
    transcript = f"{check.transcript}\n{test.transcript}\ntest groups (from --junit):\n{listing}\n"
    promtool.keep(rule_file, rules_text)
    promtool.keep(test_file, tests_text)
    promtool.keep(f"promtool-alerts-{variant}.txt", transcript)
    print(transcript)

    assert check.returncode == 0, check.transcript
    assert f"SUCCESS: {len(alert_names(prometheus_rule_spec(stack)))} rules found" in check.output
    assert test.returncode == 0, test.transcript
    assert "SUCCESS" in test.output
    ran = [line.split(None, 1) for line in listing.splitlines()]
    assert [name for _, name in ran] == [t["name"] for t in json.loads(tests_text)["tests"]]
    assert {verdict for verdict, _ in ran} == {"pass"}


@pytest.mark.tools
@pytest.mark.promtool
def test_promtool_fails_a_case_whose_expectation_is_wrong(promtool_binary: Path, tmp_path: Path) -> None:
    """The unit tests can fail: the same file with one firing case expecting another label value is refused."""
    stack = STACKS["raw"]
    (tmp_path / "rules.yaml").write_text(json.dumps(prometheus_rule_spec(stack)))
    tests = unit_test_file(stack, "rules.yaml")
    firing = next(t for t in tests["tests"] if t["alert_rule_test"][0]["exp_alerts"])
    firing["alert_rule_test"][0]["exp_alerts"][0]["exp_labels"]["namespace"] = "somewhere-else"
    tests["tests"] = [firing]
    (tmp_path / "tests.yaml").write_text(json.dumps(tests))
    test = promtool.run(promtool_binary, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert test.returncode == 1, test.transcript
    assert "FAILED" in test.output and "somewhere-else" in test.output
