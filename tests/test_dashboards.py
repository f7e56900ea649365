"""The stack's Grafana dashboards (components/dashboards.py): JSON Grafana can load, and queries Prometheus can parse.

- The ConfigMap's data parses as JSON, carries the sidecar's label, and each dashboard has what Grafana needs: a uid
  within 40 characters, unique panel ids, grid positions inside the 24 columns that do not overlap, targets with
  unique refIds and the `${datasource}` variable, and only variables it defines.
- Every query is parsed by Prometheus's own parser: with the Grafana variables replaced by sample values, each goes
  into a rule file as a recording rule, and `promtool check rules` must accept the file (skipped, saying how to build
  promtool, when `scripts/promtool` has not been run).
- The listing (titles, panels, queries) read back from the ConfigMap is the builders' own, and is printed and kept in
  build/monitoring/dashboards.txt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.dashboards import (
    DATASOURCE,
    SIDECAR_LABEL,
    dashboard_configmap,
    dashboards,
    listing,
    queries,
)
from components.monitoring import NATS_CHART, WORKLOAD_NAMES, MonitoredStack
from tools import promtool

STACKS: dict[str, MonitoredStack] = {
    "raw": MonitoredStack(namespace="chat", instance="rocketchat"),
    "helm": MonitoredStack(
        namespace="rocketchat",
        instance="rocketchat",
        workload_prefix="rocketchat-chart",
        workloads=tuple(w for w in WORKLOAD_NAMES if w != "stream-hub"),
        nats_statefulset="rocketchat-chart-nats",
        nats_metrics=NATS_CHART,
    ),
    "monolith": MonitoredStack(namespace="chat", instance="rc", workloads=("rocketchat",)),
}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range"}
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")

EXPECTED_PANELS = {
    "overview": [
        "[Users]",
        "Users online",
        "Users away",
        "Open connections",
        "Logged-in sessions",
        "Users by status",
        "[Connections]",
        "Connections per ddp-streamer pod",
        "ddp-streamer capacity used",
        "[Messages]",
        "Messages sent per second",
        "Messages stored",
        "[NATS traffic]",
        "NATS messages per second",
        "NATS bytes per second",
        "NATS client connections",
    ],
    "bus": [
        "[NATS servers]",
        "Servers ready",
        "Client connections per server",
        "Route connections per server",
        "Messages in per server",
        "Messages out per server",
        "Bytes in and out per server",
        "Slow consumers",
        "Subscriptions per server",
        "[Moleculer services]",
        "Requests handled per second, by action",
        "Request errors per second, by action and error",
        "Request latency p95, by action",
        "Requests in progress, by action",
        "Events received per second",
        "Transporter bytes per pod",
        "Bus nodes each pod sees",
    ],
}


def loaded(stack: MonitoredStack) -> dict[str, dict[str, Any]]:
    """The dashboards as Grafana reads them: the ConfigMap's JSON text, parsed."""
    return {name: json.loads(text) for name, text in dashboard_configmap(stack).data.items()}


def panel_titles(board: dict[str, Any]) -> list[str]:
    return [f"[{p['title']}]" if p["type"] == "row" else p["title"] for p in board["panels"]]


def substituted(expr: str, stack: MonitoredStack) -> str:
    """A dashboard query with its Grafana variables replaced by the stack's values."""
    values = {
        "namespace": stack.namespace,
        "instance": stack.prefix,
        "nats": stack.nats_statefulset,
        "__rate_interval": "5m",
        "__interval": "1m",
        "__range": "6h",
    }
    text = VARIABLE.sub(lambda m: values[m.group(1)], expr)
    assert "$" not in text, text
    return text


@pytest.mark.parametrize("variant", STACKS)
def test_the_configmap_carries_the_sidecar_label_and_json_grafana_can_load(variant: str) -> None:
    stack = STACKS[variant]
    configmap = dashboard_configmap(stack)
    assert configmap.labels == SIDECAR_LABEL == {"grafana_dashboard": "1"}
    assert set(configmap.data) == {
        f"rocketchat-{stack.instance}-overview.json",
        f"rocketchat-{stack.instance}-bus.json",
    }
    assert sum(len(t.encode()) for t in configmap.data.values()) < 256 * 1024  # far below a ConfigMap's 1 MiB
    assert configmap == dashboard_configmap(stack)  # same stack, same text: no diff on every update
    uids = set()
    for board in loaded(stack).values():
        assert {"uid", "title", "panels", "templating", "schemaVersion", "time"} <= set(board)
        assert "id" not in board  # provisioned dashboards get their id from Grafana
        assert len(board["uid"]) <= 40 and re.fullmatch(r"[a-z0-9-]+", board["uid"])
        uids.add(board["uid"])
        assert board["title"].endswith(f" ({stack.namespace}/{stack.instance})")
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert set(variables) == {"datasource", "namespace", "instance", "nats"}
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        assert variables["namespace"]["current"]["value"] == stack.namespace
        assert variables["instance"]["current"]["value"] == stack.prefix
        assert variables["nats"]["current"]["value"] == stack.nats_statefulset

        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert set(grid) == {"h", "w", "x", "y"} and all(isinstance(v, int) for v in grid.values())
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0 and grid["y"] >= 0
            mine = {
                (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not cells & mine, f"{panel['title']} overlaps another panel"
            cells |= mine
            if panel["type"] == "row":
                assert panel["panels"] == [] and grid["w"] == 24 and not panel.get("targets")
                continue
            assert panel["type"] in {"timeseries", "stat"} and panel["title"] and panel["description"]
            assert panel["datasource"] == DATASOURCE == {"type": "prometheus", "uid": "${datasource}"}
            refs = [t["refId"] for t in panel["targets"]]
            assert refs and len(refs) == len(set(refs))
            for target in panel["targets"]:
                assert target["datasource"] == DATASOURCE and target["expr"].strip()
                used = set(VARIABLE.findall(target["expr"]))
                assert used <= set(variables) | GRAFANA_BUILTINS, (panel["title"], used)
    assert len(uids) == 2


def test_two_stacks_get_their_own_dashboards() -> None:
    one = dashboard_configmap(MonitoredStack(namespace="team-a", instance="rocketchat")).data
    two = dashboard_configmap(MonitoredStack(namespace="team-b", instance="rocketchat")).data

    def uids(data: dict[str, str]) -> set[str]:
        return {json.loads(text)["uid"] for text in data.values()}

    assert not uids(one) & uids(two)


def test_the_listing_read_back_from_the_configmap_is_the_builders() -> None:
    out = []
    for variant, stack in STACKS.items():
        built = dashboards(stack)
        for name, board in loaded(stack).items():
            assert listing(board) == listing(built[name])
            assert queries(board) == queries(built[name])
            if variant != "monolith":
                kind = "overview" if name.endswith("-overview.json") else "bus"
                assert panel_titles(board) == EXPECTED_PANELS[kind]
            out.append(f"== {variant}: {name}\n{listing(board)}\n")
    monolith = loaded(STACKS["monolith"])
    overview = panel_titles(monolith["rocketchat-rc-overview.json"])
    assert "[Connections]" not in overview and "Open connections" not in overview
    assert "stream-hub" in json.dumps(loaded(STACKS["raw"])) and "stream-hub" not in json.dumps(loaded(STACKS["helm"]))
    assert "nats_varz_in_msgs" in json.dumps(loaded(STACKS["helm"]))
    text = "\n".join(out)
    promtool.keep("dashboards.txt", text)
    print(text)


def recording_rules(stack: MonitoredStack) -> tuple[dict[str, Any], int]:
    """Every dashboard query of the stack as a recording rule, variables substituted."""
    rules = []
    for name, board in loaded(stack).items():
        key = name.removesuffix(".json").replace("-", "_")
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                rules.append(
                    {
                        "record": f"dashboard:{key}:panel{panel['id']}_{target['refId']}",
                        "expr": substituted(target["expr"], stack),
                    }
                )
    return {"groups": [{"name": f"dashboard-queries-{stack.instance}", "rules": rules}]}, len(rules)


@pytest.fixture(scope="module")
def promtool_binary() -> Path:
    found = promtool.binary()
    if found is None:
        pytest.skip(promtool.HOW_TO_BUILD)
    return found


@pytest.mark.tools
@pytest.mark.promtool
@pytest.mark.parametrize("variant", STACKS)
def test_prometheus_parses_every_dashboard_query(variant: str, promtool_binary: Path, tmp_path: Path) -> None:
    stack = STACKS[variant]
    rule_file, count = recording_rules(stack)
    name = f"dashboard-queries-{variant}.yaml"
    text = json.dumps(rule_file, indent=2) + "\n"
    (tmp_path / name).write_text(text)
    check = promtool.run(promtool_binary, "check", "rules", "--lint=all", "--lint-fatal", name, cwd=tmp_path)
    promtool.keep(name, text)
    promtool.keep(f"promtool-dashboards-{variant}.txt", check.transcript)
    print(check.transcript)
    assert check.returncode == 0, check.transcript
    assert f"SUCCESS: {count} rules found" in check.output
    assert count == sum(len(queries(b)) for b in loaded(stack).values())


@pytest.mark.tools
@pytest.mark.promtool
def test_the_parse_check_rejects_a_broken_query(promtool_binary: Path, tmp_path: Path) -> None:
    """The same check fails on a query with a PromQL error (here an unclosed parenthesis)."""
    stack = STACKS["raw"]
    rule_file, _ = recording_rules(stack)
    rule_file["groups"][0]["rules"][0]["expr"] = "sum(rate(users_connected[5m])"
    (tmp_path / "broken.yaml").write_text(json.dumps(rule_file))
    check = promtool.run(promtool_binary, "check", "rules", "broken.yaml", cwd=tmp_path)
    assert check.returncode == 1, check.transcript
    assert "FAILED" in check.output and "parse error" in check.output
