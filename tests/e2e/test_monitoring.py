"""`rocketchat:monitoring` on the real engine, in both modes, with the prometheus-operator's CRDs installed: the API
server accepts the stack's PodMonitors and PrometheusRule, and the PodMonitors' selectors and port names match the pods
that actually run (raw Deployments in one, the official chart's in the other), NATS's exporter sidecar included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import REPORT, ChartRepository, Cluster, MonitoringCrds, Pulumi
from tests.e2e.support import Stack, destroy_completely, make_stack, wait_for

pytestmark = pytest.mark.e2e

MONITORING = {"podMonitor": True, "prometheusRule": True, "dashboards": True, "labels": {"release": "prometheus"}}
MONGO_URL = "mongodb://rocketchat:watch-password@mongo-0.db.example.net:27017/rocketchat?replicaSet=rs0"


@pytest.fixture(scope="module")
def raw(monitoring_crds: MonitoringCrds, pulumi: Pulumi, cluster: Cluster) -> Iterator[Stack]:
    stack = make_stack(
        pulumi,
        cluster,
        "monitoring-raw-e2e",
        "Pulumi.dev.yaml",
        overrides={"rocketchat:namespace": "rocketchat-watch", "rocketchat:monitoring": MONITORING},
    )
    yield stack
    stack.retire()


@pytest.fixture(scope="module")
def helm(
    monitoring_crds: MonitoringCrds, pulumi: Pulumi, cluster: Cluster, chart_repo: ChartRepository
) -> Iterator[Stack]:
    stack = make_stack(
        pulumi,
        cluster,
        "monitoring-helm-e2e",
        "Pulumi.prod.yaml",
        overrides={
            "rocketchat:namespace": "rocketchat-watch-chart",
            "rocketchat:chart": {"repo": chart_repo.url},
            "rocketchat:monitoring": MONITORING,
        },
        secrets={"rocketchat:mongoUrl": MONGO_URL, "rocketchat:license": "e2e-licence"},
    )
    yield stack
    stack.retire()


def selector_text(selector: dict[str, Any]) -> str:
    assert not selector.get("matchExpressions")
    return ",".join(f"{k}={v}" for k, v in selector["matchLabels"].items())


def scraped(cluster: Cluster, namespace: str, monitor: dict[str, Any]) -> dict[str, set[str]]:
    """Pod -> the PodMonitor's endpoint port names it has: what Prometheus would scrape, read from the live pods."""
    pods = cluster.json("get", "pods", "-n", namespace, "-l", selector_text(monitor["spec"]["selector"]))["items"]
    endpoints = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    return {
        pod["metadata"]["name"]: endpoints
        & {p.get("name") for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        for pod in pods
    }


def check_stack(cluster: Cluster, stack: Stack, namespace: str, workloads: int) -> list[str]:
    """Up; then what the API server holds, and what the PodMonitors would scrape. Returns report lines."""
    stack.timed(f"monitoring: up ({stack.name})", "up", "--yes", "--skip-preview")
    monitors = {m["metadata"]["name"]: m for m in cluster.items("podmonitors.monitoring.coreos.com", namespace)}
    assert set(monitors) == {"rocketchat", "rocketchat-nats"}, sorted(monitors)  # ours alone, in both modes
    assert all(m["metadata"]["labels"]["release"] == "prometheus" for m in monitors.values())
    (rule,) = cluster.items("prometheusrules.monitoring.coreos.com", namespace)
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    dashboards = cluster.json("get", "configmap", "rocketchat-dashboards", "-n", namespace)

    rocketchat = wait_for(
        "every Rocket.Chat pod scheduled",
        lambda: (found := scraped(cluster, namespace, monitors["rocketchat"])) and len(found) >= workloads and found,
        timeout=120,
    )
    assert all(ports for ports in rocketchat.values()), {p: sorted(n) for p, n in rocketchat.items()}
    nats = scraped(cluster, namespace, monitors["rocketchat-nats"])
    assert nats and all(ports == {"metrics"} for ports in nats.values()), nats
    ports = sorted({p for names in rocketchat.values() for p in names})
    accepted = (
        f"monitoring ({stack.name}): PodMonitors {sorted(monitors)}, PrometheusRule {rule['metadata']['name']} "
        f"({len(alerts)} alerts: {', '.join(alerts)}), ConfigMap rocketchat-dashboards "
        f"({', '.join(sorted(dashboards['data']))}) accepted by the API server"
    )
    found = (
        f"monitoring ({stack.name}): the Rocket.Chat PodMonitor selects {len(rocketchat)} running pods, on ports "
        f"{ports}; the NATS one {len(nats)} pods on port metrics (the exporter sidecar)"
    )
    return [accepted, found]


def test_raw_mode_monitoring_is_accepted_and_finds_the_pods(raw: Stack, cluster: Cluster) -> None:
    REPORT.extend(check_stack(cluster, raw, "rocketchat-watch", workloads=5))
    destroy_completely(raw, cluster, "rocketchat-watch", "monitoring raw", step="monitoring: destroy (raw)")


def test_helm_mode_monitoring_is_accepted_and_finds_the_charts_pods(helm: Stack, cluster: Cluster) -> None:
    namespace = "rocketchat-watch-chart"
    REPORT.extend(check_stack(cluster, helm, namespace, workloads=5))
    # The chart rendered no PodMonitor of its own (its podMonitor value is off): checked above, ours alone.
    destroy_completely(helm, cluster, namespace, "monitoring helm", step="monitoring: destroy (helm)")
