"""The stack's Grafana dashboards, as Grafana JSON models built here, and the ConfigMap that carries them.

- "Rocket.Chat overview": users, connections per ddp-streamer pod against their budget, message rate, NATS traffic;
- "Rocket.Chat bus": the NATS servers (readiness, client and route connections, messages and bytes in and out, slow
  consumers, subscriptions) and the Moleculer services over it (request rate, errors, latency, events, transporter
  traffic, the nodes each process sees).

Every query goes to the `${datasource}` variable (a Prometheus data source picked in the dashboard) and is scoped by
three more variables, set to the stack's values by default: `namespace`, `instance` (the name prefix of the
Deployments: the instance in raw mode, the release name in helm mode) and `nats` (the NATS StatefulSet). Metric
names and labels are the ones components/monitoring.py describes.

`dashboard_configmap(stack)` returns the ConfigMap's labels (`grafana_dashboard: "1"`, which the Grafana sidecar of the
kube-prometheus-stack and Grafana charts looks for by default) and data (file name -> JSON text). Titles carry the
stack (`Rocket.Chat overview (chat/rocketchat)`): the sidecar puts every dashboard in one folder, where Grafana wants
titles unique.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from components.catalog import DDP_STREAMER, MONOLITH
from components.monitoring import MonitoredStack, Scope

SIDECAR_LABEL = {"grafana_dashboard": "1"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
SCHEMA_VERSION = 39
GRID_WIDTH = 24
TAG = "rocketchat"

# The variables' names as the queries use them (Grafana replaces `$name` before it sends a query).
VARIABLES = Scope(namespace="$namespace", prefix="$instance", nats_statefulset="$nats")


@dataclass
class Panel:
    title: str
    targets: list[tuple[str, str]]
    """(PromQL, legend) pairs; refIds A, B, ... in this order."""
    description: str
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    threshold: float | None = None
    """A red line (timeseries) or colour step (stat) at this value."""


@dataclass
class Section:
    title: str
    panels: list[Panel] = field(default_factory=list)


def _pods(workload: str) -> str:
    """Matchers for the pods of one workload, in dashboard variables."""
    return VARIABLES.pods((workload,))


def _rocketchat_pods(stack: MonitoredStack) -> str:
    return VARIABLES.pods(stack.workloads)


def overview_sections(stack: MonitoredStack) -> list[Section]:
    monolith = _pods(MONOLITH.name)
    ddp = _pods(DDP_STREAMER.name)
    nats = stack.nats_metrics
    nats_pods = VARIABLES.nats_pods()
    budget = stack.ddp_streamer_budget
    online = f"max(rocketchat_users_online{{{monolith}}})"
    away = f"max(rocketchat_users_away{{{monolith}}})"
    # The user counts come from the workspace statistics, which every monolith pod reports alike: max, not sum.
    users = Section(
        "Users",
        [
            Panel(
                "Users online",
                [(online, "online")],
                "Users whose status is online, from the workspace statistics the monolith generates now and then (not "
                "live: the open connections are).",
                kind="stat",
                width=6,
                height=4,
            ),
            Panel("Users away", [(away, "away")], "Users whose status is away.", kind="stat", width=6, height=4),
        ],
    )
    if stack.runs_ddp_streamer:
        users.panels += [
            Panel(
                "Open connections",
                [(f"sum(users_connected{{{ddp}}})", "connections")],
                "DDP connections (browser tabs, desktop and mobile apps) held by all ddp-streamer pods.",
                kind="stat",
                width=6,
                height=4,
            ),
            Panel(
                "Logged-in sessions",
                [(f"sum(users_logged{{{ddp}}})", "logged in")],
                "Connections that have logged in, over all ddp-streamer pods.",
                kind="stat",
                width=6,
                height=4,
            ),
        ]
    users.panels.append(
        Panel(
            "Users by status",
            [
                (online, "online"),
                (away, "away"),
                (f"max(rocketchat_users_active{{{monolith}}})", "active accounts"),
            ],
            "Online and away users, and the workspace's active accounts, over time.",
            width=24,
        )
    )
    connections = Section(
        "Connections",
        [
            Panel(
                "Connections per ddp-streamer pod",
                [(f"sum by (pod) (users_connected{{{ddp}}})", "{{pod}}")],
                f"Open DDP connections of each ddp-streamer pod; the red line is the budget of one pod ({budget}). "
                "One pod far above the others is an imbalance (clients stay on their pod), all above is undersizing.",
                threshold=budget,
            ),
            Panel(
                "ddp-streamer capacity used",
                [
                    (
                        f"sum(users_connected{{{ddp}}}) / (count(users_connected{{{ddp}}}) * {budget})",
                        "connections / (pods x budget)",
                    )
                ],
                f"All connections against the pods' combined budget ({budget} each): above 100% the stack needs "
                "more ddp-streamer pods (rocketchat:concurrentUsers).",
                unit="percentunit",
                threshold=1,
            ),
        ],
    )
    messages = Section(
        "Messages",
        [
            Panel(
                "Messages sent per second",
                [(f"sum(rate(rocketchat_message_sent{{{monolith}}}[{RATE}]))", "messages/s")],
                "Messages sent through the monolith (its message counter), all pods together.",
                unit="ops",
                width=16,
            ),
            Panel(
                "Messages stored",
                [(f"max(rocketchat_messages_total{{{monolith}}})", "messages")],
                "Messages in the workspace's database (workspace statistics).",
                kind="stat",
                width=8,
            ),
        ],
    )
    bus = Section(
        "NATS traffic",
        [
            Panel(
                "NATS messages per second",
                [
                    (f"sum(rate({nats.varz('in_msgs')}{{{nats_pods}}}[{RATE}]))", "in"),
                    (f"sum(rate({nats.varz('out_msgs')}{{{nats_pods}}}[{RATE}]))", "out"),
                ],
                "Messages the NATS servers received from and delivered to their clients and routes, all servers.",
                unit="ops",
                width=8,
            ),
            Panel(
                "NATS bytes per second",
                [
                    (f"sum(rate({nats.varz('in_bytes')}{{{nats_pods}}}[{RATE}]))", "in"),
                    (f"sum(rate({nats.varz('out_bytes')}{{{nats_pods}}}[{RATE}]))", "out"),
                ],
                "Bytes the NATS servers received and sent, all servers.",
                unit="Bps",
                width=8,
            ),
            Panel(
                "NATS client connections",
                [(f"sum by (pod) ({nats.varz('connections')}{{{nats_pods}}})", "{{pod}}")],
                "Clients (Rocket.Chat processes) connected to each NATS server.",
                width=8,
            ),
        ],
    )
    return [users, connections, messages, bus] if stack.runs_ddp_streamer else [users, messages, bus]


def bus_sections(stack: MonitoredStack) -> list[Section]:
    nats = stack.nats_metrics
    nats_pods = VARIABLES.nats_pods()
    sts = VARIABLES.statefulset()
    rc = _rocketchat_pods(stack)
    handled = f'{rc}, type="local"'
    request_time = f"rate(moleculer_request_time_bucket{{{rc}}}[{RATE}])"
    servers = Section(
        "NATS servers",
        [
            Panel(
                "Servers ready",
                [
                    (f"max(kube_statefulset_status_replicas_ready{{{sts}}})", "ready"),
                    (f"max(kube_statefulset_replicas{{{sts}}})", "wanted"),
                ],
                "NATS servers ready, and how many the StatefulSet wants (kube-state-metrics).",
                kind="stat",
                width=6,
            ),
            Panel(
                "Client connections per server",
                [(f"sum by (pod) ({nats.varz('connections')}{{{nats_pods}}})", "{{pod}}")],
                "Clients connected to each server: every Rocket.Chat process holds one connection.",
                width=9,
            ),
            Panel(
                "Route connections per server",
                [
                    (f"sum by (pod) ({nats.routez('num_routes')}{{{nats_pods}}})", "{{pod}}"),
                    (
                        f"(max(kube_statefulset_replicas{{{sts}}}) - 1) * {stack.nats_routes_per_peer}",
                        "full mesh",
                    ),
                ],
                "Route connections each server holds to its peers; every server should be on the full-mesh line "
                f"((servers - 1) x {stack.nats_routes_per_peer}).",
                width=9,
            ),
            Panel(
                "Messages in per server",
                [(f"sum by (pod) (rate({nats.varz('in_msgs')}{{{nats_pods}}}[{RATE}]))", "{{pod}}")],
                "Messages each server received from its clients and routes.",
                unit="ops",
                width=6,
            ),
            Panel(
                "Messages out per server",
                [(f"sum by (pod) (rate({nats.varz('out_msgs')}{{{nats_pods}}}[{RATE}]))", "{{pod}}")],
                "Messages each server delivered to its clients and routes.",
                unit="ops",
                width=6,
            ),
            Panel(
                "Bytes in and out per server",
                [
                    (f"sum by (pod) (rate({nats.varz('in_bytes')}{{{nats_pods}}}[{RATE}]))", "{{pod}} in"),
                    (f"sum by (pod) (rate({nats.varz('out_bytes')}{{{nats_pods}}}[{RATE}]))", "{{pod}} out"),
                ],
                "Bytes each server received and sent.",
                unit="Bps",
                width=12,
            ),
            Panel(
                "Slow consumers",
                [(f"sum by (pod) (increase({nats.varz('slow_consumers')}{{{nats_pods}}}[{RATE}]))", "{{pod}}")],
                "Clients a server cut off because they did not read fast enough (new ones in each interval).",
                width=12,
                threshold=1,
            ),
            Panel(
                "Subscriptions per server",
                [(f"sum by (pod) ({nats.varz('subscriptions')}{{{nats_pods}}})", "{{pod}}")],
                "Subjects subscribed on each server (Moleculer subscribes per node, service and event).",
                width=12,
            ),
        ],
    )
    moleculer = Section(
        "Moleculer services",
        [
            # Moleculer counts a call twice: `type="remote"` in the caller, `type="local"` in the process that handles
            # it. Counting the local side counts each request once, where it ran.
            Panel(
                "Requests handled per second, by action",
                [(f"sum by (action) (rate(moleculer_request_total{{{handled}}}[{RATE}]))", "{{action}}")],
                "Bus requests the Rocket.Chat processes handled, by action (presence.*, authorization.*, ...).",
                unit="reqps",
            ),
            Panel(
                "Request errors per second, by action and error",
                [
                    (
                        f"sum by (action, errorName) (rate(moleculer_request_error_total{{{handled}}}[{RATE}]))",
                        "{{action}}: {{errorName}}",
                    )
                ],
                "Bus requests that failed where they ran; MongoDB connection errors here mean the database is out "
                "of reach (alert RocketChatMongoUnreachable).",
                unit="reqps",
            ),
            Panel(
                "Request latency p95, by action",
                [
                    (
                        f"histogram_quantile(0.95, sum by (le, action) ({request_time}))",
                        "{{action}}",
                    )
                ],
                "95th percentile of request time by action, in the callers and the handlers alike (the histogram "
                "has no type label).",
                unit="ms",
            ),
            Panel(
                "Requests in progress, by action",
                [(f"sum by (action) (moleculer_request_active{{{handled}}})", "{{action}}")],
                "Requests being handled right now; a growing line is a service that does not keep up.",
            ),
            Panel(
                "Events received per second",
                [(f"sum by (event) (rate(moleculer_event_received_total{{{rc}}}[{RATE}]))", "{{event}}")],
                "Bus events the processes received, by event (stream notifications, presence, settings, ...).",
                unit="ops",
            ),
            Panel(
                "Transporter bytes per pod",
                [
                    (f"sum by (pod) (rate(moleculer_transporter_packets_sent_bytes{{{rc}}}[{RATE}]))", "{{pod}} sent"),
                    (
                        f"sum by (pod) (rate(moleculer_transporter_packets_received_bytes{{{rc}}}[{RATE}]))",
                        "{{pod}} received",
                    ),
                ],
                "What each Rocket.Chat process sends to and receives from NATS.",
                unit="Bps",
            ),
            Panel(
                "Bus nodes each pod sees",
                [(f"max by (pod) (moleculer_registry_nodes_online_total{{{rc}}})", "{{pod}}")],
                "Moleculer nodes each process sees online; all pods should agree (one node per Rocket.Chat pod). "
                "A pod seeing fewer is cut off from part of the bus (see the route connections above).",
                width=24,
            ),
        ],
    )
    return [servers, moleculer]


def _uid(stack: MonitoredStack, name: str) -> str:
    """Stable and unique per stack, within Grafana's 40 characters."""
    digest = hashlib.sha256(f"{stack.namespace}/{stack.instance}".encode()).hexdigest()[:12]
    return f"rocketchat-{digest}-{name}"


def _panel_json(panel: Panel, panel_id: int, grid: dict[str, int]) -> dict[str, Any]:
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": expr,
            "legendFormat": legend,
            "range": panel.kind == "timeseries",
            "instant": panel.kind == "stat",
        }
        for i, (expr, legend) in enumerate(panel.targets)
    ]
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if panel.threshold is not None:
        steps.append({"color": "red", "value": panel.threshold})
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}}
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "thresholdsStyle": {"mode": "line" if panel.threshold is not None else "off"},
        }
        options: dict[str, Any] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
            "orientation": "auto",
        }
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": grid,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
    }


def _layout(sections: list[Section]) -> list[dict[str, Any]]:
    """Rows and their panels, left to right, wrapping at Grafana's 24 columns."""
    panels: list[dict[str, Any]] = []
    next_id, y = 1, 0
    for section in sections:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": section.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id, y = next_id + 1, y + 1
        x, line_height = 0, 0
        for panel in section.panels:
            if x + panel.width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            grid = {"h": panel.height, "w": panel.width, "x": x, "y": y}
            panels.append(_panel_json(panel, next_id, grid))
            next_id, x, line_height = next_id + 1, x + panel.width, max(line_height, panel.height)
        y += line_height
    return panels


def _variables(stack: MonitoredStack) -> list[dict[str, Any]]:
    def textbox(name: str, label: str, value: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": "textbox",
            "query": value,
            "current": {"text": value, "value": value},
            "options": [{"selected": True, "text": value, "value": value}],
            "description": description,
            "hide": 0,
        }

    namespaces = "label_values(kube_deployment_spec_replicas, namespace)"
    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
            "regex": "",
        },
        {
            "name": "namespace",
            "label": "Namespace",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": namespaces, "refId": "namespaces"},
            "definition": namespaces,
            "current": {"text": stack.namespace, "value": stack.namespace},
            "refresh": 2,
            "sort": 1,
            "multi": False,
            "includeAll": False,
            "hide": 0,
        },
        textbox(
            "instance",
            "Workload prefix",
            stack.prefix,
            "Name prefix of the Rocket.Chat Deployments: the stack's instance (raw mode) or release name (helm mode).",
        ),
        textbox("nats", "NATS StatefulSet", stack.nats_statefulset, "The StatefulSet of the stack's NATS servers."),
    ]


def dashboard(stack: MonitoredStack, name: str, title: str, sections: list[Section]) -> dict[str, Any]:
    """A Grafana dashboard JSON model (as the sidecar provisions it: no numeric id)."""
    return {
        "uid": _uid(stack, name),
        "title": f"{title} ({stack.namespace}/{stack.instance})",
        "tags": [TAG, name],
        "description": f"{title} of the Rocket.Chat stack {stack.instance} in namespace {stack.namespace}.",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "title": "Rocket.Chat",
                "tags": [TAG],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": _variables(stack)},
        "panels": _layout(sections),
    }


def overview_dashboard(stack: MonitoredStack) -> dict[str, Any]:
    return dashboard(stack, "overview", "Rocket.Chat overview", overview_sections(stack))


def bus_dashboard(stack: MonitoredStack) -> dict[str, Any]:
    return dashboard(stack, "bus", "Rocket.Chat bus", bus_sections(stack))


def dashboards(stack: MonitoredStack) -> dict[str, dict[str, Any]]:
    """File name (in the ConfigMap, and so in Grafana's provisioning folder) -> dashboard."""
    return {
        f"rocketchat-{stack.instance}-overview.json": overview_dashboard(stack),
        f"rocketchat-{stack.instance}-bus.json": bus_dashboard(stack),
    }


@dataclass(frozen=True)
class DashboardConfigMap:
    labels: dict[str, str]
    data: dict[str, str]


def dashboard_configmap(stack: MonitoredStack) -> DashboardConfigMap:
    """Labels and data of the ConfigMap the Grafana sidecar loads the dashboards from. The JSON text is stable (sorted
    keys), so an unchanged dashboard never shows as a diff."""
    data = {name: json.dumps(board, indent=2, sort_keys=True) + "\n" for name, board in dashboards(stack).items()}
    return DashboardConfigMap(labels=dict(SIDECAR_LABEL), data=data)


def queries(board: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, refId, expr) of every query of a dashboard, in panel order."""
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def listing(board: dict[str, Any]) -> str:
    """The dashboard as a person reads it: title, rows, panels and their queries."""
    lines = [f"{board['title']} (uid {board['uid']})"]
    for panel in board["panels"]:
        if panel["type"] == "row":
            lines.append(f"  [{panel['title']}]")
            continue
        lines.append(f"    {panel['title']} ({panel['type']}, {panel['fieldConfig']['defaults']['unit']})")
        for target in panel["targets"]:
            lines.append(f"      {target['refId']}: {target['expr']}")
    return "\n".join(lines)
