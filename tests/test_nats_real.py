"""The generated NATS config on real nats-server processes (Debian's package), on 127.0.0.1 only.

The config comes from `components.nats.render_nats_config`, the same function the NatsCluster Secret is rendered
with; only the route hosts, ports, listen address and pid file point at loopback and a temp dir. The node name comes
from `$SERVER_NAME`, set in each process's environment as the StatefulSet sets it in each pod. Clients connect with
`client_url` and `CLIENT_USER`, i.e. exactly the TRANSPORTER address the Rocket.Chat pods get.

Every test starts its own servers and stops them (and waits for them) before it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.nats import CLIENT_USER, PID_FILE, client_url, render_nats_config
from tools.engine import Recording, reveal

NATS_SERVER = shutil.which("nats-server") or next(
    (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if os.access(p, os.X_OK)), None
)
pytestmark = [
    pytest.mark.tools,
    pytest.mark.nats_server,
    pytest.mark.skipif(
        NATS_SERVER is None, reason="nats-server is not installed: `apt-get install -y nats-server` (scripts/setup)"
    ),
]

LOOPBACK = "127.0.0.1"
CLIENT_PASSWORD = f"client-{secrets.token_hex(12)}"
ROUTE_PASSWORD = f"route-{secrets.token_hex(12)}"
DEADLINE = 10.0  # seconds: the longest any wait below may take (a cluster forms in ~0.1 s)


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out on loopback, all held at once so that none is given twice."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Node:
    name: str
    directory: Path
    client_port: int
    cluster_port: int
    monitor_port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_file(self) -> Path:
        return self.directory / "nats.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "nats.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "nats.pid"

    def url(self, password: str = CLIENT_PASSWORD) -> str:
        return client_url(password, LOOPBACK, self.client_port)

    def write_config(self, route_ports: list[int], route_password: str = ROUTE_PASSWORD) -> str:
        text = render_nats_config(
            client_password=CLIENT_PASSWORD,
            route_password=route_password,
            routes=[f"{LOOPBACK}:{port}" for port in route_ports],
            host=LOOPBACK,
            client_port=self.client_port,
            cluster_port=self.cluster_port,
            monitor_port=self.monitor_port,
            pid_file=str(self.pid_file),
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text)
        return text

    def start(self) -> None:
        self.env = {**os.environ, "SERVER_NAME": self.name}
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [NATS_SERVER, "-c", str(self.config_file)], stdout=log, stderr=subprocess.STDOUT, env=self.env
            )

    def monitor(self, path: str) -> dict[str, Any] | None:
        """A monitoring endpoint's JSON, or None while the server is not answering."""
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{self.monitor_port}{path}", timeout=1) as response:
                return json.load(response)
        except OSError:
            return None

    def routes(self) -> int | None:
        routez = self.monitor("/routez")
        return None if routez is None else routez["num_routes"]

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def stop(self, kill: bool = False) -> None:
        """Stop this node's own process and reap it (a node in lame-duck mode may ignore SIGTERM: then kill)."""
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def make_nodes(tmp_path: Path, count: int) -> list[Node]:
    ports = free_ports(3 * count)
    return [
        Node(f"node-{i}", tmp_path / f"node-{i}", ports[i], ports[count + i], ports[2 * count + i])
        for i in range(count)
    ]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    """Three configured nodes plus a fourth spare (not started, not in the routes); all stopped at the end."""
    made = make_nodes(tmp_path, 4)
    for node in made[:3]:
        node.write_config([n.cluster_port for n in made[:3]])
    try:
        yield made
    finally:
        for node in made:
            node.stop()


@pytest.fixture
def cluster(nodes: list[Node]) -> list[Node]:
    """Three running nodes, routed to each other (every node has 2 routes)."""
    started = time.monotonic()
    for node in nodes[:3]:
        node.start()
    wait_for(lambda: all(n.routes() == 2 for n in nodes[:3]), "three nodes with two routes each")
    print(f"cluster formed in {time.monotonic() - started:.3f} s")
    return nodes[:3]


def check_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NATS_SERVER, "-t", "-c", str(path)], capture_output=True, text=True, timeout=DEADLINE, env=env
    )


def _env_without_server_name() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SERVER_NAME"}


# --------------------------------------------------------------------------------------------------------------
# Async client helpers (nats-py; subscription callbacks must be coroutines)
# --------------------------------------------------------------------------------------------------------------


async def connect(*urls: str, **options: Any) -> Any:
    import nats

    defaults: dict[str, Any] = {"connect_timeout": 2, "allow_reconnect": False, "max_reconnect_attempts": 0}
    return await nats.connect(servers=list(urls), **(defaults | options))


async def subscribe(client: Any, subject: str) -> asyncio.Queue[bytes]:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_message(message: Any) -> None:
        await received.put(message.data)

    await client.subscribe(subject, cb=on_message)
    await client.flush()
    return received


async def deliver(publisher: Any, received: asyncio.Queue[bytes], subject: str) -> float:
    """Publish until the first message crosses the routes (interest propagates asynchronously), then send one more
    and require exactly that one: delivered once, not duplicated. Returns the seconds the first delivery took."""
    started = time.monotonic()
    attempt = 0
    while True:
        await publisher.publish(subject, f"probe-{attempt}".encode())
        await publisher.flush()
        try:
            first = await asyncio.wait_for(received.get(), 0.05)
            break
        except TimeoutError:
            attempt += 1
            assert time.monotonic() - started < DEADLINE, f"nothing arrived on {subject} in {DEADLINE} s"
    assert first.startswith(b"probe-")
    took = time.monotonic() - started
    while not received.empty():  # later probes that were still in flight
        assert received.get_nowait().startswith(b"probe-")
    payload = f"exactly-once-{secrets.token_hex(4)}".encode()
    await publisher.publish(subject, payload)
    await publisher.flush()
    assert await asyncio.wait_for(received.get(), 2) == payload
    await asyncio.sleep(0.1)
    assert received.empty(), "a message was delivered twice"
    return took


async def refusal(url: str) -> str:
    """The error a connection attempt ends with ('' if it is accepted)."""
    try:
        client = await connect(url)
    except Exception as error:
        return str(error)
    await client.close()
    return ""


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 3 * DEADLINE))


# --------------------------------------------------------------------------------------------------------------
# nats-server -t
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("routes", [1, 3], ids=["single-node", "three-nodes"])
def test_generated_config_passes_nats_server_t(tmp_path: Path, routes: int) -> None:
    node = make_nodes(tmp_path, 1)[0]
    text = node.write_config(free_ports(routes))
    assert ("cluster {" in text) == (routes > 1)
    done = check_config(node.config_file, {**os.environ, "SERVER_NAME": "nats-0"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid" in done.stdout + done.stderr

    # The same check fails when it should: without the pod's SERVER_NAME, and with a broken line.
    done = check_config(node.config_file, _env_without_server_name())
    assert done.returncode != 0 and "SERVER_NAME" in done.stdout + done.stderr
    node.config_file.write_text(text.replace("authorization {", "authorization {\n  no_such_option: true"))
    done = check_config(node.config_file, {**os.environ, "SERVER_NAME": "nats-0"})
    assert done.returncode != 0 and "no_such_option" in done.stdout + done.stderr


@pytest.mark.parametrize("stack", ["dev", "prod_raw"])
def test_the_stacks_own_nats_conf_passes_nats_server_t(
    request: pytest.FixtureRequest, tmp_path: Path, stack: str
) -> None:
    """The nats.conf the stack ships in its Secret, byte for byte (Kubernetes hosts and /var/run/nats included)."""
    recording: Recording = request.getfixturevalue(stack)
    text = reveal(recording.one("Secret", "rocketchat-nats-config").inputs)["stringData"]["nats.conf"]
    assert f'pid_file: "{PID_FILE}"' in text
    (tmp_path / "nats.conf").write_text(text)
    done = check_config(tmp_path / "nats.conf", {**os.environ, "SERVER_NAME": "rocketchat-nats-0"})
    assert done.returncode == 0, done.stdout + done.stderr


# --------------------------------------------------------------------------------------------------------------
# A running three-node cluster
# --------------------------------------------------------------------------------------------------------------


def test_three_nodes_form_a_cluster_and_carry_messages_between_nodes(cluster: list[Node]) -> None:
    for node in cluster:
        varz = node.monitor("/varz")
        assert varz is not None and varz["server_name"] == node.name  # $SERVER_NAME from the environment
        assert int(node.pid_file.read_text()) == node.process.pid
        assert node.routes() == 2

    async def scenario() -> float:
        subscriber = await connect(cluster[1].url())
        publisher = await connect(cluster[0].url())
        try:
            assert publisher.connected_url.port == cluster[0].client_port
            assert subscriber.connected_url.port == cluster[1].client_port
            received = await subscribe(subscriber, "rocketchat.bus")
            return await deliver(publisher, received, "rocketchat.bus")
        finally:
            await publisher.close()
            await subscriber.close()

    print(f"first message across the route in {run(scenario()):.3f} s")


def test_wrong_or_missing_credentials_are_refused(cluster: list[Node]) -> None:
    node = cluster[0]
    assert run(refusal(node.url())) == ""  # the TRANSPORTER credentials are accepted
    for url in (
        node.url(password="not-the-password"),
        f"nats://{LOOPBACK}:{node.client_port}",  # no credentials at all
        f"nats://{CLIENT_USER}@{LOOPBACK}:{node.client_port}",  # user without password
        f"nats://route:{ROUTE_PASSWORD}@{LOOPBACK}:{node.client_port}",  # the route user is no client
    ):
        assert "Authorization Violation" in run(refusal(url)), url
    assert node.log().count("authentication error") == 4


def test_a_route_with_the_wrong_password_is_refused(nodes: list[Node], cluster: list[Node]) -> None:
    rogue = nodes[3]
    rogue.write_config([n.cluster_port for n in nodes], route_password="not-the-route-password")
    rogue.start()
    wait_for(lambda: rogue.monitor("/varz"), "the rogue node to start")
    wait_for(lambda: "Authorization Violation" in rogue.log(), "the rogue node's routes to be refused")
    for node in cluster:
        wait_for(lambda node=node: "authentication error" in node.log(), f"{node.name} to refuse the route")
    assert rogue.routes() == 0
    assert [node.routes() for node in cluster] == [2, 2, 2]


def test_messages_still_flow_after_a_node_is_killed(cluster: list[Node]) -> None:
    victim, first, second = cluster

    async def scenario() -> None:
        reconnected = asyncio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        # A client on the doomed node that knows every node's address, as a bus client behind a Service would.
        roaming = await connect(
            *(n.url() for n in cluster),
            allow_reconnect=True,
            dont_randomize=True,
            max_reconnect_attempts=50,
            reconnect_time_wait=0.1,
            reconnected_cb=on_reconnect,
        )
        subscriber = await connect(first.url())
        publisher = await connect(second.url())
        try:
            assert roaming.connected_url.port == victim.client_port
            received = await subscribe(subscriber, "rocketchat.bus")
            await deliver(publisher, received, "rocketchat.bus")

            victim.stop(kill=True)  # SIGKILL: no lame duck, no goodbye to the peers
            started = time.monotonic()
            await asyncio.to_thread(
                wait_for, lambda: first.routes() == 1 and second.routes() == 1, "the survivors to drop the dead route"
            )
            print(f"survivors dropped the dead route in {time.monotonic() - started:.3f} s")
            await deliver(publisher, received, "rocketchat.bus")

            await asyncio.wait_for(reconnected.wait(), DEADLINE)
            assert roaming.connected_url.port in (first.client_port, second.client_port)
            await deliver(roaming, received, "rocketchat.bus")
        finally:
            for client in (roaming, subscriber, publisher):
                await client.close()

    run(scenario())
    assert victim.process.returncode == -9


def test_probes_and_lame_duck_of_the_statefulset_work_on_a_real_server(
    prod_raw: Recording, cluster: list[Node]
) -> None:
    """The StatefulSet's health-check paths answer 200, and its preStop command puts the server into lame duck."""
    nats = reveal(prod_raw.one("StatefulSet", "rocketchat-nats").inputs)
    container = nats["spec"]["template"]["spec"]["containers"][0]
    paths = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
    node = cluster[0]
    for path in paths:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{node.monitor_port}{path}", timeout=2) as response:
            assert response.status == 200, path

    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert any(PID_FILE in part for part in command)
    command = [NATS_SERVER, *(part.replace(PID_FILE, str(node.pid_file)) for part in command[1:])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE, env=node.env)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_for(lambda: "Entering lame duck mode" in node.log(), "lame duck mode")
