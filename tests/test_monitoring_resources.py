"""`rocketchat:monitoring` on the real stack files, in both modes: the PodMonitors find every Rocket.Chat pod on ports
those pods have, NATS is scraped through its exporter sidecar (restricted, and reachable from the monitoring namespace
alone), and the PrometheusRule and dashboards are the stack's own. The chart's pods are checked against the same
PodMonitor in tests/test_release_chart.py, and the API server accepts these objects in tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.alerts import alert_names, prometheus_rule_spec
from components.dashboards import SIDECAR_LABEL, queries
from components.monitoring import MonitoredStack
from components.observability import StackMonitoring
from tests.conftest import built, children, deployments, pod_spec
from tools import promtool
from tools.engine import Recording, reveal, run_program
from tools.restricted import violations

MONITORED = {
    "rocketchat:monitoring": {
        "podMonitor": True,
        "prometheusRule": True,
        "dashboards": True,
        "labels": {"release": "kube-prometheus-stack"},
        "runbookUrl": "https://runbooks.example.org/rocketchat",
    }
}
EXPORTER_PORT = 7777


@pytest.fixture(scope="module")
def raw() -> Recording:
    return run_program("dev", MONITORED)


@pytest.fixture(scope="module")
def helm() -> Recording:
    return run_program("prod", MONITORED)


def custom(recording: Recording, kind: str) -> dict[str, dict[str, Any]]:
    return {r.k8s_name: reveal(r.inputs) for r in recording.resources if r.kind == kind}


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items()) and not selector.get("matchExpressions")


def port_names(spec: dict[str, Any]) -> set[str]:
    return {p["name"] for c in spec["containers"] for p in c.get("ports", [])}


def test_the_rocketchat_pod_monitor_finds_every_raw_pod_on_ports_they_have(raw: Recording) -> None:
    monitors = custom(raw, "PodMonitor")
    assert set(monitors) == {"rocketchat", "rocketchat-nats"}
    monitor = monitors["rocketchat"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == "rocketchat-dev"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    endpoints = {e["port"]: e for e in monitor["spec"]["podMetricsEndpoints"]}
    assert set(endpoints) == {"metrics", "moleculer"}
    assert all(e["path"] == "/metrics" for e in endpoints.values())

    workloads = deployments(raw)
    assert len(workloads) == 5
    for name, deployment in workloads.items():
        spec = pod_spec(deployment)
        assert matches(monitor["spec"]["selector"], reveal(deployment.inputs)["spec"]["template"]["metadata"]["labels"])
        # Every process exposes Moleculer's metrics; the monolith its own Prometheus endpoint too.
        expected = {"metrics", "moleculer"} if name == "rocketchat-rocketchat" else {"moleculer"}
        assert set(endpoints) & port_names(spec) == expected, name
    # No other pod is scraped as Rocket.Chat (NATS and MongoDB carry no instance label of Rocket.Chat's).
    others = [r for r in raw.of_type("StatefulSet")]
    assert others and not any(
        matches(monitor["spec"]["selector"], reveal(s.inputs)["spec"]["template"]["metadata"]["labels"]) for s in others
    )


def test_nats_is_scraped_through_a_restricted_exporter_beside_each_server(raw: Recording) -> None:
    nats = raw.one("StatefulSet", "rocketchat-nats")
    template = reveal(nats.inputs)["spec"]["template"]
    containers = {c["name"]: c for c in template["spec"]["containers"]}
    assert set(containers) == {"nats", "metrics"}
    exporter = containers["metrics"]
    assert exporter["image"].startswith("docker.io/natsio/prometheus-nats-exporter:")
    assert exporter["args"][-1] == "http://localhost:8222"  # the server's monitoring port, over the pod's loopback
    assert {"-varz", "-routez"} <= set(exporter["args"])  # what the alerts and dashboards read
    assert exporter["ports"] == [{"name": "metrics", "containerPort": EXPORTER_PORT}]
    statefulset = {"kind": "StatefulSet", "metadata": {"name": "rocketchat-nats"}, "spec": {"template": template}}
    assert violations(statefulset) == []

    monitor = custom(raw, "PodMonitor")["rocketchat-nats"]
    assert matches(monitor["spec"]["selector"], template["metadata"]["labels"])
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]


def test_only_the_monitoring_namespace_reaches_the_exporter_and_nothing_reaches_the_monitoring_port(
    raw: Recording, dev: Recording
) -> None:
    def monitoring_rules(recording: Recording) -> list[dict[str, Any]]:
        policy = reveal(recording.one("NetworkPolicy", "rocketchat-nats").inputs)["spec"]
        return [rule for rule in policy["ingress"] if any("namespaceSelector" in peer for peer in rule["from"])]

    (rule,) = monitoring_rules(raw)
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": EXPORTER_PORT}]
    assert monitoring_rules(dev) == []  # no exporter, nothing to scrape: no way in from the monitoring namespace


def test_the_alerts_are_the_stacks_and_link_their_runbook(raw: Recording) -> None:
    (rule,) = custom(raw, "PrometheusRule").values()
    assert rule["metadata"]["name"] == "rocketchat-alerts"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    expected = MonitoredStack(
        namespace="rocketchat-dev",
        instance="rocketchat",
        workloads=("rocketchat", "account", "authorization", "presence", "ddp-streamer"),
        nats_statefulset="rocketchat-nats",
        runbook_url="https://runbooks.example.org/rocketchat",
    )
    assert rule["spec"] == prometheus_rule_spec(expected)
    exprs = "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert 'deployment=~"rocketchat-(rocketchat|account|authorization|presence|ddp-streamer)"' in exprs
    assert 'statefulset="rocketchat-nats"' in exprs and "gnatsd_routez_num_routes" in exprs
    assert "RocketChatStreamHubMissing" not in alert_names(rule["spec"])  # 8.6.1 runs none


def test_the_dashboards_are_one_config_map_for_the_grafana_sidecar(raw: Recording) -> None:
    config_map = reveal(raw.one("ConfigMap", "rocketchat-dashboards").inputs)
    assert SIDECAR_LABEL.items() <= config_map["metadata"]["labels"].items()
    boards = {name: json.loads(text) for name, text in config_map["data"].items()}
    assert set(boards) == {"rocketchat-rocketchat-overview.json", "rocketchat-rocketchat-bus.json"}
    assert all(queries(board) for board in boards.values())


def test_helm_mode_scrapes_the_charts_pods_with_the_same_pod_monitor_on_the_charts_port_names(helm: Recording) -> None:
    monitors = custom(helm, "PodMonitor")
    assert set(monitors) == {"rocketchat", "rocketchat-nats"}
    monitor = monitors["rocketchat"]["spec"]
    assert monitor["selector"] == {"matchLabels": {"rocketchat.chat/instance": "rocketchat"}}
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == ["metrics", "ms-metrics"]
    values = reveal(helm.one("Release", "rocketchat").inputs)["values"]
    assert values["podMonitor"] == {"enabled": False}  # ours, not the chart's: one PodMonitor across mode switches
    assert values["podLabels"] == {"rocketchat.chat/instance": "rocketchat"}
    (rule,) = custom(helm, "PrometheusRule").values()
    exprs = "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert 'deployment=~"rocketchat-(rocketchat|account|authorization|presence|ddp-streamer)"' in exprs


def test_a_helm_stack_on_the_charts_nats_watches_the_charts_nats() -> None:
    recording = run_program("prod", {**MONITORED, "rocketchat:nats": {"replicas": 3, "bundled": True}})
    assert set(custom(recording, "PodMonitor")) == {"rocketchat"}  # the chart's NATS has its own
    (rule,) = custom(recording, "PrometheusRule").values()
    exprs = "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert 'statefulset="rocketchat-nats"' in exprs and "nats_routez_num_routes" in exprs


def test_without_monitoring_nothing_of_it_exists_and_nats_runs_alone(dev: Recording, prod: Recording) -> None:
    for stack in (dev, prod):
        assert not [r for r in stack.resources if "monitoring.coreos.com" in r.type]
        assert not [r for r in stack.of_type("ConfigMap") if r.k8s_name.endswith("-dashboards")]
        nats = reveal(stack.one("StatefulSet", "rocketchat-nats").inputs)["spec"]["template"]["spec"]
        assert [c["name"] for c in nats["containers"]] == ["nats"]


def test_stack_monitoring_alone_from_its_required_args(recording: Recording) -> None:
    def make() -> Any:
        monitoring = StackMonitoring(
            "watch",
            {"namespace": "team", "workloads": ["monolith"], "pod_monitor": True, "prometheus_rule": True},
        )
        return [monitoring.pod_monitor_names, monitoring.rule_name]

    names, rule_name = built(make)
    assert (names, rule_name) == (["rocketchat"], "rocketchat-alerts")
    made = children(recording, "watch")
    assert set(made) == {"PodMonitor/rocketchat", "PrometheusRule/rocketchat-alerts"}
    exprs = "\n".join(r["expr"] for g in made["PrometheusRule/rocketchat-alerts"]["spec"]["groups"] for r in g["rules"])
    assert 'namespace="team"' in exprs and 'deployment=~"rocketchat-(rocketchat)"' in exprs
    assert "ddp-streamer" not in exprs and "stream-hub" not in exprs  # it watches what it was told runs


@pytest.mark.tools
@pytest.mark.promtool
def test_promtool_accepts_the_rule_the_program_registers(raw: Recording, tmp_path: Path) -> None:
    found = promtool.binary()
    if found is None:
        pytest.skip(promtool.HOW_TO_BUILD)
    (rule,) = custom(raw, "PrometheusRule").values()
    (tmp_path / "rules.yaml").write_text(json.dumps(rule["spec"]))
    check = promtool.run(found, "check", "rules", "--lint=all", "--lint-fatal", "rules.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.transcript
    assert f"SUCCESS: {len(alert_names(rule['spec']))} rules found" in check.output
