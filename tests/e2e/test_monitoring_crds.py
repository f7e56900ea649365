"""The prometheus-operator CRDs on the e2e cluster: the API server judges PodMonitors and PrometheusRules.

`monitoring_crds` (tests/e2e/conftest.py) applies the CRDs of the locked prometheus-operator version, fetched by
`scripts/e2e-toolchain crds` from its Go module; without them this module is skipped, saying so. Every object here is
sent with `kubectl apply --dry-run=server`: the API server validates it against the CRD's schema and stores nothing,
so the module leaves no object behind and does not depend on, or change, what the other modules see. (The tests
name `monitoring_crds` before `cluster`: without the CRD files they skip before a cluster is started for them.)
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.alerts import alert_names, prometheus_rule_spec
from components.monitoring import NATS_CHART, MonitoredStack
from tests.e2e.conftest import REPORT, Cluster, MonitoringCrds

pytestmark = pytest.mark.e2e

NAMESPACE = "default"  # a dry run needs the namespace to exist; nothing is stored in it


def pod_monitor(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "rocketchat-e2e-pods", "labels": {"app.kubernetes.io/part-of": "rocketchat"}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "rocketchat"}},
            "podMetricsEndpoints": [endpoint],
        },
    }


def prometheus_rule(rule: dict[str, Any], name: str = "rocketchat-e2e-rules") -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name},
        "spec": {"groups": [{"name": "rocketchat-e2e", "rules": [rule]}]},
    }


ALERT = {
    "alert": "RocketChatE2eDown",
    "expr": 'up{job="rocketchat"} == 0',
    "for": "5m",
    "labels": {"severity": "critical"},
    "annotations": {"summary": "Rocket.Chat is down"},
}


def dry_run(cluster: Cluster, doc: dict[str, Any]) -> tuple[int, str, str]:
    """`kubectl apply --dry-run=server` of one object: (exit code, stdout, stderr)."""
    proc = cluster.run("apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", check=False, input=json.dumps(doc))
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def accepted(cluster: Cluster, doc: dict[str, Any]) -> None:
    code, out, err = dry_run(cluster, doc)
    kind = doc["kind"].lower()
    assert code == 0, f"the API server refused the {doc['kind']}: {err}"
    assert re.fullmatch(rf"{kind}\.monitoring\.coreos\.com/{doc['metadata']['name']} \w+ \(server dry run\)", out), out
    assert "Warning" not in err, err


def refused(cluster: Cluster, doc: dict[str, Any], *expected: str) -> str:
    """The API server's refusal of `doc`, which must contain every `expected` fragment."""
    code, out, err = dry_run(cluster, doc)
    assert code != 0, f"the API server accepted an invalid {doc['kind']}: {out}"
    assert "is invalid" in err, err
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in the API server's answer: {err}"
    REPORT.append(f"monitoring CRDs: {doc['kind']} refused: {' '.join(err.split())}")
    return err


def test_the_crds_are_served(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    resources = cluster.run("api-resources", "--api-group=monitoring.coreos.com", "-o", "name").stdout.split()
    for plural in ("podmonitors", "prometheusrules", "servicemonitors"):
        assert f"{plural}.monitoring.coreos.com" in resources, resources
    crd = cluster.json("get", "customresourcedefinition", "prometheusrules.monitoring.coreos.com")
    assert crd["metadata"]["annotations"]["operator.prometheus.io/version"] == monitoring_crds.version.removeprefix("v")
    assert monitoring_crds.kinds == ("PodMonitor", "PrometheusRule", "ServiceMonitor")


def test_a_pod_monitor_is_accepted(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    accepted(cluster, pod_monitor({"port": "metrics", "path": "/metrics", "interval": "30s"}))


def test_a_prometheus_rule_is_accepted(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    accepted(cluster, prometheus_rule(ALERT))


def test_the_stacks_own_alerts_are_accepted(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    """The PrometheusRule spec of components/alerts.py, for a raw and a helm stack, as the CRD's schema sees it."""
    raw = MonitoredStack(
        namespace=NAMESPACE,
        instance="rocketchat",
        stream_hub_required=True,
        runbook_url="https://docs.example.org/rocketchat/monitoring",
    )
    helm = MonitoredStack(
        namespace=NAMESPACE,
        instance="rocketchat",
        workload_prefix="chat",
        nats_statefulset="chat-nats",
        nats_metrics=NATS_CHART,
    )
    for stack in (raw, helm):
        spec = prometheus_rule_spec(stack)
        assert alert_names(spec), "no alert to ask about"
        doc = {**prometheus_rule(ALERT, name=f"{stack.prefix}-alerts"), "spec": spec}
        accepted(cluster, doc)


def test_an_alert_without_expr_is_refused(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    rule = {k: v for k, v in ALERT.items() if k != "expr"}
    refused(cluster, prometheus_rule(rule), "spec.groups[0].rules[0].expr: Required value")


def test_a_pod_monitor_port_of_the_wrong_type_is_refused(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    refused(
        cluster,
        pod_monitor({"port": 3000, "interval": "30 seconds"}),
        'spec.podMetricsEndpoints[0].port: Invalid value: "integer"',
        "must be of type string",
        "spec.podMetricsEndpoints[0].interval",
    )


def test_nothing_was_stored(monitoring_crds: MonitoringCrds, cluster: Cluster) -> None:
    left = cluster.run("get", "podmonitors,prometheusrules,servicemonitors", "--all-namespaces", "-o", "name").stdout
    assert left.split() == [], left
