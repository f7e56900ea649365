"""The stack's alerts: the `spec` of a PrometheusRule (monitoring.coreos.com/v1), as plain data.

`prometheus_rule_spec(stack)` returns `{"groups": [...]}`, which is also a Prometheus rule file: `promtool check rules`
validates it and `promtool test rules` unit-tests it (tests/test_alerts.py). Every alert carries `severity` and
`rocketchat_instance` labels and three annotations: `summary`, `description` (a runbook: what it means, what to check,
what to do) and, when the stack gives a base URL, `runbook_url`. Annotation templates use only `{{ $labels.<name> }}`
and `{{ $value }}`.

The alerts, and the series they read (see components/monitoring.py for where each comes from):

| alert | severity | fires when |
|---|---|---|
| RocketChatNatsDown | critical | no NATS server of the StatefulSet is ready (kube-state-metrics) |
| RocketChatNatsDegraded | warning | some, not all, NATS servers are ready |
| RocketChatNatsRouteLost | warning | a NATS server holds fewer route connections than a full mesh needs (/routez) |
| RocketChatNatsSlowConsumers | warning | a NATS server cut off slow consumers in the last 10 minutes (exporter /varz) |
| RocketChatWorkloadUnavailable | critical | a Rocket.Chat Deployment wants pods and has none available |
| RocketChatMongoUnreachable | critical | a Rocket.Chat process fails bus requests with MongoDB connection errors |
| RocketChatStreamHubMissing | critical | stream-hub is required (before 7.7), its Deployment gone or scaled to zero |
| RocketChatDdpStreamerOverBudget | warning | a ddp-streamer pod holds more connections than it is sized for |
"""

from __future__ import annotations

from typing import Any

from components.catalog import DDP_STREAMER, STREAM_HUB
from components.monitoring import MonitoredStack

CRITICAL = "critical"
WARNING = "warning"

# The Node.js MongoDB driver's errors for "no connection to the database" (as opposed to errors MongoDB returns for
# a query it did run, such as MongoServerError for a duplicate key): no server could be selected in time, a network
# failure or timeout, a client used before it connected or after it closed, a pool cleared after a failure.
MONGO_CONNECTION_ERRORS = (
    "MongoServerSelectionError",
    "MongoNetworkError",
    "MongoNetworkTimeoutError",
    "MongoNotConnectedError",
    "MongoTopologyClosedError",
    "MongoPoolClearedError",
)


def label(name: str) -> str:
    """A Prometheus alert template reference to one of the alert's labels."""
    return "{{ $labels." + name + " }}"


VALUE = "{{ $value }}"


def _alert(
    stack: MonitoredStack,
    name: str,
    *,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
) -> dict[str, Any]:
    annotations = {"summary": summary, "description": description}
    if stack.runbook_url:
        annotations["runbook_url"] = f"{stack.runbook_url}#{name.lower()}"
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "rocketchat_instance": stack.instance},
        "annotations": annotations,
    }


def _join(*lines: str) -> str:
    """A multi-line PromQL expression, one operand or operator per line (as an operator reads it)."""
    return "\n".join(lines)


def nats_alerts(stack: MonitoredStack) -> list[dict[str, Any]]:
    s = stack.scope
    sts = stack.nats_statefulset
    ns = stack.namespace
    ready = f"kube_statefulset_status_replicas_ready{{{s.statefulset()}}}"
    desired = f"kube_statefulset_replicas{{{s.statefulset()}}}"
    routes = f"{stack.nats_metrics.routez('num_routes')}{{{s.nats_pods()}}}"
    slow = f"{stack.nats_metrics.varz('slow_consumers')}{{{s.nats_pods()}}}"
    exec_ = f"kubectl -n {ns} exec {sts}-0 -c nats --"
    return [
        _alert(
            stack,
            "RocketChatNatsDown",
            # No server ready while the StatefulSet wants some: the bus is gone. `and on (...)` pairs the two
            # kube-state-metrics series of the same StatefulSet whatever other labels the scrape added.
            expr=_join(f"{ready} == 0", "and on (namespace, statefulset)", f"{desired} > 0"),
            for_="2m",
            severity=CRITICAL,
            summary=f"No NATS server of {label('statefulset')} in {label('namespace')} is ready: the bus is down",
            description=(
                "What it means: every Rocket.Chat process talks to the others over this NATS cluster (Moleculer's "
                "transporter). With no server ready, the services cannot call each other: logins, presence, "
                "permissions and live updates fail, and ddp-streamer pods stop accepting clients.\n"
                f"Check: `kubectl -n {ns} get pods -o wide | grep {sts}-` and `kubectl -n {ns} describe statefulset "
                f"{sts}` (events: scheduling, image pulls, the PodDisruptionBudget); `kubectl -n {ns} logs {sts}-0 -c "
                "nats` (a config error such as a bad route URL or credentials stops the server at start).\n"
                "Do: fix what the events or logs name; the StatefulSet starts its servers in parallel and the "
                "Rocket.Chat processes reconnect by themselves. A config Secret edited by hand is taken back by "
                "`pulumi up --refresh`."
            ),
        ),
        _alert(
            stack,
            "RocketChatNatsDegraded",
            # Fewer ready servers than wanted, but at least one (the case of none is RocketChatNatsDown). The
            # comparison keeps the left operand's value (the number of ready servers) and, matching one to one
            # `on (...)`, only the labels named there.
            expr=_join(f"({ready} < on (namespace, statefulset) {desired})", "> 0"),
            for_="10m",
            severity=WARNING,
            summary=f"Only {VALUE} NATS servers of {label('statefulset')} in {label('namespace')} are ready",
            description=(
                "What it means: the bus still works (clients reconnect to the servers that are up), but it has lost "
                "redundancy, and the clients of the missing servers had to move. Longer than a rollout (each server "
                "drains for 30 s in lame-duck mode) is not a rollout.\n"
                f"Check: `kubectl -n {ns} get pods | grep {sts}-` for the pod that is not ready, then its events "
                f"(`kubectl -n {ns} describe pod <pod>`: unschedulable, OOMKilled, failing /healthz) and its logs "
                "(`-c nats`).\n"
                "Do: fix the cause (node capacity, memory limit `rocketchat:nats.resources`); delete a pod stuck in a "
                "bad state, the StatefulSet recreates it under the same name and the routes re-form."
            ),
        ),
        _alert(
            stack,
            "RocketChatNatsRouteLost",
            # Each server of an N-server cluster holds (N - 1) x routes-per-peer route connections when the mesh is
            # whole (NATS 2.10+: a pool of 3 per peer plus one for the system account). The left side is one series
            # per server pod, the right side one number per namespace: group_left matches many to one. With one
            # server the right side is 0 and nothing fires.
            expr=_join(
                f"max by (namespace, pod) ({routes})",
                "< on (namespace) group_left ()",
                f"(max by (namespace) ({desired}) - 1) * {stack.nats_routes_per_peer}",
            ),
            for_="5m",
            severity=WARNING,
            summary=f"NATS server {label('pod')} in {label('namespace')} holds only {VALUE} route connections",
            description=(
                "What it means: this server is cut off from at least one peer. Messages published by clients of one "
                "side no longer reach subscribers on the other: Rocket.Chat requests time out (REQUEST_TIMEOUT) and "
                "events get lost between the pods connected to different servers. A whole mesh holds "
                f"(servers - 1) x {stack.nats_routes_per_peer} route connections on every server.\n"
                f"Check: `{exec_} wget -qO- http://127.0.0.1:8222/routez` on each server (which peers are missing), "
                f"then `kubectl -n {ns} logs {label('pod')} -c nats` for route errors: an authorization violation "
                "(route credentials differ between servers: a rollout of the config is still going on), a name that "
                "does not resolve (the headless Service), a refused connection on port 6222 (the NetworkPolicy "
                "that lets NATS peers reach each other), or 'Mismatch route pool size'.\n"
                "Do: let a config rollout finish; otherwise fix the cause and delete the isolated pod, which "
                "re-joins the mesh when it starts (its clients move to a peer through lame-duck mode)."
            ),
        ),
        _alert(
            stack,
            "RocketChatNatsSlowConsumers",
            # slow_consumers counts, since the server started, the clients it cut off because they did not read
            # fast enough; increase() handles the reset to zero when a server restarts.
            expr=f"sum by (namespace, pod) (increase({slow}[10m])) > 0",
            for_="2m",
            severity=WARNING,
            summary=f"NATS server {label('pod')} in {label('namespace')} cut off slow consumers in the last 10 minutes",
            description=(
                "What it means: a client (a Rocket.Chat process) did not read its messages fast enough, so the NATS "
                "server dropped messages for it and may have closed its connection. The Rocket.Chat process misses "
                "bus events (presence, message streams) until it reconnects.\n"
                f"Check: `{exec_} wget -qO- 'http://127.0.0.1:8222/connz?sort=pending'` for the connections with "
                "pending bytes (their names are the Moleculer node IDs, i.e. the pods); CPU throttling and "
                "event-loop lag of those pods; a burst of traffic in the bus dashboard.\n"
                "Do: give the slow workload more CPU (`rocketchat:services.<name>.resources`, "
                "`rocketchat:monolith.resources`) or more pods; if it is ddp-streamer, size it for the users "
                "(`rocketchat:concurrentUsers`)."
            ),
        ),
    ]


def workload_alerts(stack: MonitoredStack) -> list[dict[str, Any]]:
    s = stack.scope
    ns = stack.namespace
    available = f"kube_deployment_status_replicas_available{{{s.deployments(stack.workloads)}}}"
    wanted = f"kube_deployment_spec_replicas{{{s.deployments(stack.workloads)}}}"
    connection_errors = "|".join(MONGO_CONNECTION_ERRORS)
    errors = f'moleculer_request_error_total{{{s.pods(stack.workloads)}, errorName=~"{connection_errors}"}}'
    alerts = [
        _alert(
            stack,
            "RocketChatWorkloadUnavailable",
            # A Deployment that wants pods and has none available. Scaled to zero on purpose is not an outage, hence
            # the spec; `on (namespace, deployment)` pairs the two series of one Deployment.
            expr=_join(f"{available} == 0", "and on (namespace, deployment)", f"{wanted} > 0"),
            for_="5m",
            severity=CRITICAL,
            summary=f"Deployment {label('deployment')} in {label('namespace')} has no available pod",
            description=(
                "What it means: none of this workload's pods is ready. The monolith serves the web app and the REST "
                "API; ddp-streamer holds the clients' websockets; account, authorization and presence answer "
                "logins, permissions and user status over the bus; stream-hub (before 7.7) publishes database "
                "changes. Whatever this one does is down for every user.\n"
                f"Check: `kubectl -n {ns} describe deployment {label('deployment')}` and the events of its pods; "
                f"`kubectl -n {ns} logs deployment/{label('deployment')}`. Usual causes: MongoDB unreachable (see "
                "RocketChatMongoUnreachable), NATS down (RocketChatNatsDown), ddp-streamer waiting for the monolith "
                "over the bus, 'Enterprise license not found' (more than one pod of a service without a licence), "
                "an image that cannot be pulled, a memory limit too low (OOMKilled).\n"
                "Do: fix the dependency the logs name; for a licence or sizing problem set the licence "
                "(`rocketchat:license`) or the replicas/resources in the stack config and run `pulumi up`."
            ),
        ),
        _alert(
            stack,
            "RocketChatMongoUnreachable",
            # What Rocket.Chat exposes about its database is indirect: Moleculer counts failed requests by the
            # error's name (the `errorName` label of moleculer_request_error_total), and the MongoDB driver names its
            # connection failures. Any of them in the last 5 minutes, per pod. Limits: it needs bus traffic (an idle
            # workspace fires nothing), and it does not see the monolith's own web and DDP requests.
            expr=f"sum by (namespace, pod) (increase({errors}[5m])) > 0",
            for_="2m",
            severity=CRITICAL,
            summary=f"{label('pod')} in {label('namespace')} fails requests with MongoDB connection errors",
            description=(
                "What it means: requests this pod handled over the bus failed with MongoDB driver connection errors "
                "(server selection timed out, network error, pool cleared): the process cannot reach the replica "
                "set or it has no primary. Everything that reads or writes data fails for the users it serves. "
                "This signal comes from failed Moleculer requests, so it needs traffic, and it does not cover the "
                "monolith's own HTTP requests: an idle workspace with an unreachable database stays quiet here "
                "(its pods then fail their probes: RocketChatWorkloadUnavailable).\n"
                f"Check: `kubectl -n {ns} logs {label('pod')}` for the driver's error (ReplicaSetNoPrimary, "
                "ENOTFOUND, ETIMEDOUT, authentication failed); the replica set's health (`rs.status()`), its DNS "
                "and firewall from the cluster; the Secret `<instance>-mongodb` (key `mongo-uri`) still holds the "
                "right URL, with `replicaSet=` in it.\n"
                "Do: restore the replica set or the network path to it; for a changed URL, "
                "`pulumi config set --secret rocketchat:mongoUrl ...` and `pulumi up` (every Rocket.Chat Deployment "
                "rolls to the new Secret)."
            ),
        ),
    ]
    if stack.stream_hub_required:
        deployment = f"{stack.prefix}-{STREAM_HUB.name}"
        stream_hub = f"kube_deployment_status_replicas_available{{{s.deployment(STREAM_HUB.name)}}}"
        any_deployment = f"kube_deployment_status_replicas_available{{{s.ns()}}}"
        stream_hub_wanted = f"kube_deployment_spec_replicas{{{s.deployment(STREAM_HUB.name)}}}"
        alerts.append(
            _alert(
                stack,
                "RocketChatStreamHubMissing",
                # Gone: kube-state-metrics reports no such Deployment, while it does report others of the namespace
                # (`unless on ()` drops the case where it reports nothing there: kube-state-metrics itself is down).
                # Or scaled to zero. A stream-hub that exists but has no ready pod is RocketChatWorkloadUnavailable.
                expr=_join(
                    f"(absent({stream_hub}) unless on () absent({any_deployment}))",
                    "or",
                    f"max by (namespace, deployment) ({stream_hub_wanted}) == 0",
                ),
                for_="5m",
                severity=CRITICAL,
                summary=f"stream-hub ({deployment}) is missing in {label('namespace')}, and this version needs it",
                description=(
                    "What it means: before Rocket.Chat 7.7 stream-hub turns MongoDB change streams into bus "
                    "events; without it messages are saved but not pushed to the clients, which see new messages, "
                    "presence and notifications only after a reload. Its Deployment was deleted or scaled to zero.\n"
                    f"Check: `kubectl -n {ns} get deployment {deployment}`; who scaled or deleted it "
                    "(the cluster's audit log); whether the stack config still runs microservices.\n"
                    "Do: `pulumi up --refresh` recreates it as the program defines it (one pod, Recreate strategy); "
                    f"never scale it above one (`kubectl -n {ns} scale deployment {deployment} --replicas=1` is the "
                    "stop-gap). For good, upgrade to 7.7 or later, where stream-hub is no longer needed."
                ),
            )
        )
    return alerts


def capacity_alerts(stack: MonitoredStack) -> list[dict[str, Any]]:
    if not stack.runs_ddp_streamer:
        return []
    s = stack.scope
    connected = f"users_connected{{{s.pods((DDP_STREAMER.name,))}}}"
    budget = stack.ddp_streamer_budget
    return [
        _alert(
            stack,
            "RocketChatDdpStreamerOverBudget",
            # users_connected is ddp-streamer's own gauge of its open DDP connections (one per browser tab or app
            # session). `max by (namespace, pod)` keeps one series per pod and drops the scrape's other labels.
            expr=f"max by (namespace, pod) ({connected}) > {budget}",
            for_="15m",
            severity=WARNING,
            summary=f"ddp-streamer pod {label('pod')} holds {VALUE} connections, over its budget of {budget}",
            description=(
                f"What it means: the stack sizes ddp-streamer at one pod per {budget} concurrent users, and this "
                "pod has held more connections than that for 15 minutes. Past its budget a pod's event loop lags: "
                "messages and presence reach its clients late, and it is the first to be OOMKilled.\n"
                "Check: the overview dashboard's connections per ddp-streamer pod: all pods high means the stack is "
                "undersized; one pod high means an imbalance (the Service keeps a client on its pod by source IP, "
                "so many users behind one NAT land on one pod, and connections never move to new pods).\n"
                "Do: undersized: raise `rocketchat:concurrentUsers` (or `rocketchat:services.ddpStreamer.replicas`; "
                "where ddp-streamer autoscales, its `autoscaling.maxReplicas`) and `pulumi up`. Imbalanced: after "
                "scaling, restart the busy pod at a quiet hour "
                f"(`kubectl -n {stack.namespace} delete pod {label('pod')}`); its clients reconnect and spread."
            ),
        )
    ]


def prometheus_rule_spec(stack: MonitoredStack) -> dict[str, Any]:
    """The PrometheusRule `spec` (also a Prometheus rule file) of one stack's alerts."""
    groups = [
        ("bus", nats_alerts(stack)),
        ("workloads", workload_alerts(stack)),
        ("capacity", capacity_alerts(stack)),
    ]
    return {
        "groups": [{"name": f"rocketchat-{stack.instance}-{name}", "rules": rules} for name, rules in groups if rules]
    }


def alert_names(spec: dict[str, Any]) -> list[str]:
    return [rule["alert"] for group in spec["groups"] for rule in group["rules"] if "alert" in rule]
