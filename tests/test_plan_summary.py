"""tools.plan.summary: pods, requests, limits and storage of a set of objects, and how the amounts print."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tools.plan.summary import format_bytes, format_cpu, summarize, summary_line


def test_amounts_print_the_way_people_read_them() -> None:
    assert format_cpu(Decimal("0.25")) == "250m"
    assert format_cpu(Decimal("1.35")) == "1.35"
    assert format_cpu(Decimal(3)) == "3"
    assert format_cpu(Decimal(0)) == "0"
    assert format_bytes(Decimal(512 * 2**20)) == "512Mi"
    assert format_bytes(Decimal(13 * 2**30 + 2**29)) == "13.5Gi"
    assert format_bytes(Decimal(0)) == "0"


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

    summary = summarize([deployment, statefulset, service])

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
    summary = summarize([small_init])
    assert summary.requests_cpu == 4  # the init container's 2 cores outweigh the app's 500m, per pod
    assert summary.requests_memory == 2 * 2**30  # the app's 1Gi outweighs the init container's 256Mi
    sidecar = workload(
        "Deployment",
        1,
        [container("app", {"cpu": "500m", "memory": "1Gi"})],
        initContainers=[container("log", {"cpu": "100m", "memory": "64Mi"}, restartPolicy="Always")],
    )
    assert summarize([sidecar]).requests_cpu == Decimal("0.6")  # a sidecar runs beside the app


def test_summary_line_names_counts_pods_and_totals() -> None:
    summary = summarize(
        [workload("Deployment", 2, [container("app", {"cpu": "250m", "memory": "256Mi"}, {"memory": "512Mi"})])]
    )
    line = summary_line("dev", summary)
    assert line == (
        "dev: 1 objects (Deployment 1) | 2 pods | requests cpu 500m memory 512Mi | limits cpu none memory 1Gi"
        " | storage 0"
    )
