"""MongoReplicaSet's membership: the readiness probe's mongosh script, run in Node against a fake replica set, moves
`rs0`'s members to exactly the StatefulSet's pods, one safe step per run; and the component names its Kubernetes
objects after `object_name` while its Pulumi resources keep their names."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from components.mongodb import MongoReplicaSet, connection_url, member_hosts, membership_script
from tests.conftest import built, children
from tools.engine import Recording

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="node is not on PATH: the membership script runs in Node against a fake replica set"
)

# What mongosh gives the script, faked: `rs` and `db` over a replica set described by a JSON "world" read from stdin
# (its config members, the members that are down or not heard from yet, the primary, this member), errors to throw on
# demand, and every call recorded. Prints the exit code, the error, the calls, what was printed and the config members
# afterwards.
FAKE_MONGOSH = r"""
const vm = require('vm');
const world = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const calls = [], printed = [];
const copy = (x) => JSON.parse(JSON.stringify(x));
class ServerError extends Error {
  constructor(codeName) { super(codeName + ' (fake server error)'); this.codeName = codeName; }
}
function failOnDemand(method) {
  if ((world.errors || {})[method]) throw new ServerError(world.errors[method]);
}
const isDown = (host) => host !== world.self && (world.down || []).includes(host);
const notHeardFrom = (host) => host !== world.self && (world.unheard || []).includes(host);
const health = (host) => (isDown(host) ? 0 : notHeardFrom(host) ? -1 : 1);
const stateOf = (host) => (host === world.primary ? 1 : isDown(host) ? 8 : 2);
const rs = {
  status() {
    calls.push(['status']);
    failOnDemand('status');
    if (!world.initiated) throw new ServerError('NotYetInitialized');
    if (!world.members.some((m) => m.host === world.self)) throw new ServerError('InvalidReplicaSetConfig');
    return {ok: 1, set: 'rs0', members: world.members.map((m) => ({
      _id: m._id, name: m.host, health: health(m.host), state: stateOf(m.host), self: m.host === world.self,
    }))};
  },
  conf() {
    calls.push(['conf']);
    if (!world.initiated) throw new ServerError('NotYetInitialized');
    return {_id: 'rs0', version: 7, members: copy(world.members)};
  },
  initiate(config) {
    calls.push(['initiate', copy(config)]);
    failOnDemand('initiate');
    world.initiated = true;
    world.members = copy(config.members);
    return {ok: 1};
  },
  add(member) {
    calls.push(['add', copy(member)]);
    failOnDemand('add');
    world.members.push(copy(member));
    return {ok: 1};
  },
  remove(host) {
    calls.push(['remove', host]);
    failOnDemand('remove');
    world.members = world.members.filter((m) => m.host !== host);
    return {ok: 1};
  },
  reconfig(config, options) {
    calls.push(['reconfig', copy(config), copy(options || {})]);
    failOnDemand('reconfig');
    world.members = copy(config.members);
    return {ok: 1};
  },
};
const db = {
  hello() {
    calls.push(['hello']);
    return {isWritablePrimary: world.initiated && world.primary === world.self, me: world.self, setName: 'rs0'};
  },
  adminCommand(command) {
    if (command.ping === 1) return {ok: world.ping === false ? 0 : 1};
    throw new Error('the fake knows no command ' + JSON.stringify(command));
  },
};
const QUIT = Symbol('quit');
const shell = {
  rs, db,
  print: (...args) => printed.push(args.join(' ')),
  quit: (code) => { throw {[QUIT]: code === undefined ? 0 : code}; },
  process: {env: {HOSTNAME: world.hostname}},
};
let exit = 0, error = null;
try {
  vm.runInNewContext(world.script, shell);
} catch (e) {
  if (e && e[QUIT] !== undefined) exit = e[QUIT];
  else { exit = 1; error = String((e && e.message) || e); }
}
process.stdout.write(JSON.stringify({exit, error, calls, printed, members: world.members || []}));
"""

# The calls that change the replica set's config.
RECONFIGURING = ("initiate", "add", "remove", "reconfig")


@dataclass
class Run:
    exit: int
    error: str | None
    calls: list[list[Any]]
    printed: list[str]
    members: list[dict[str, Any]]

    @property
    def reconfigs(self) -> list[list[Any]]:
        return [c for c in self.calls if c[0] in RECONFIGURING]


@pytest.fixture
def fake_mongosh(tmp_path: Path) -> Path:
    harness = tmp_path / "fake_mongosh.js"
    harness.write_text(FAKE_MONGOSH)
    return harness


def hosts(replicas: int) -> list[str]:
    return member_hosts("mongodb", "chat", replicas)


def config(*member_hosts_: str) -> list[dict[str, Any]]:
    return [{"_id": i, "host": h} for i, h in enumerate(member_hosts_)]


def run_script(harness: Path, script: str, *, self: str, **world: Any) -> Run:
    """One run of `script` on the member whose host is `self` (its pod's HOSTNAME is the host's first label)."""
    given = {"script": script, "self": self, "hostname": self.split(".")[0], "initiated": True, **world}
    done = subprocess.run(
        [NODE or "node", str(harness)], input=json.dumps(given), capture_output=True, text=True, check=True, timeout=30
    )
    return Run(**json.loads(done.stdout))


def run_on(harness: Path, replicas: int, *, self: str, **world: Any) -> Run:
    return run_script(harness, membership_script("mongodb", "chat", replicas), self=self, **world)


# --- first start ------------------------------------------------------------------------------------------------


@needs_node
def test_the_first_start_of_one_member_initiates_it(fake_mongosh: Path) -> None:
    [h0] = hosts(1)
    run = run_on(fake_mongosh, 1, self=h0, initiated=False)
    assert run.exit == 0, run.error
    assert run.reconfigs == [["initiate", {"_id": "rs0", "members": [{"_id": 0, "host": h0}]}]]


@needs_node
def test_the_first_start_of_three_members_only_member_0_initiates_with_every_host(fake_mongosh: Path) -> None:
    h0, h1, h2 = hosts(3)
    first = run_on(fake_mongosh, 3, self=h0, initiated=False)
    assert first.exit == 0, first.error
    assert first.reconfigs == [["initiate", {"_id": "rs0", "members": config(h0, h1, h2)}]]
    for other in (h1, h2):
        run = run_on(fake_mongosh, 3, self=other, initiated=False)
        assert (run.exit, run.reconfigs) == (0, []), "the others only report that mongod answers"


@needs_node
def test_member_0_retries_the_initiate_while_the_others_do_not_answer_yet(fake_mongosh: Path) -> None:
    """The quorum check fails until every member answers (NodeNotFound): the next run tries again."""
    run = run_on(fake_mongosh, 3, self=hosts(3)[0], initiated=False, errors={"initiate": "NodeNotFound"})
    assert run.exit == 0, run.error
    assert run.printed == ["rs0 membership: waiting: NodeNotFound"]


@needs_node
def test_a_member_whose_mongod_does_not_answer_is_not_up(fake_mongosh: Path) -> None:
    h0, h1 = hosts(2)
    assert run_on(fake_mongosh, 2, self=h1, initiated=False, ping=False).exit == 1
    assert run_on(fake_mongosh, 2, self=h0, members=config(h0, h1), primary=h0, ping=False).exit == 1


# --- growth -----------------------------------------------------------------------------------------------------


@needs_node
def test_growing_a_live_set_from_1_to_3_adds_one_member_per_run_on_the_primary(fake_mongosh: Path) -> None:
    h0, h1, h2 = hosts(3)
    members = config(h0)
    added = []
    for _ in range(4):
        run = run_on(fake_mongosh, 3, self=h0, members=members, primary=h0)
        assert run.exit == 0, run.error
        added.append(run.reconfigs)
        members = run.members
    assert added == [[["add", {"host": h1, "_id": 1}]], [["add", {"host": h2, "_id": 2}]], [], []]
    assert members == config(h0, h1, h2)
    assert run.printed == ["rs0 membership: members as wanted"]


@needs_node
def test_an_added_member_takes_the_lowest_free_id(fake_mongosh: Path) -> None:
    h0, h1, h2 = hosts(3)
    run = run_on(fake_mongosh, 3, self=h0, members=[{"_id": 0, "host": h0}, {"_id": 2, "host": h2}], primary=h0)
    assert run.reconfigs == [["add", {"host": h1, "_id": 1}]]


@needs_node
def test_a_member_that_is_not_the_primary_never_reconfigures(fake_mongosh: Path) -> None:
    h = hosts(5)
    growing = run_on(fake_mongosh, 5, self=h[1], members=config(*h[:3]), primary=h[0])
    shrinking = run_on(fake_mongosh, 3, self=h[1], members=config(*h), down=h[3:], primary=h[0])
    not_added_yet = run_on(fake_mongosh, 3, self=h[2], members=config(*h[:2]), primary=h[0])
    for run in (growing, shrinking, not_added_yet):
        assert (run.exit, run.reconfigs) == (0, []), run.error


# --- shrink -----------------------------------------------------------------------------------------------------


@needs_node
def test_shrinking_3_to_1_once_the_removed_pods_are_gone_forces_member_0_alone(fake_mongosh: Path) -> None:
    h0, h1, h2 = hosts(3)
    run = run_on(fake_mongosh, 1, self=h0, members=config(h0, h1, h2), down=[h1, h2], primary=None)
    assert run.exit == 0, run.error
    assert run.reconfigs == [["reconfig", {"_id": "rs0", "version": 7, "members": config(h0)}, {"force": True}]]


@needs_node
def test_no_forced_reconfig_while_a_primary_exists_or_an_unwanted_member_answers(fake_mongosh: Path) -> None:
    h = hosts(5)
    # 5 -> 3 with a third wanted member down: a primary that lost its majority holds on until the election timeout.
    primary_holding_on = run_on(fake_mongosh, 3, self=h[0], members=config(*h), down=h[2:], primary=h[1])
    # 5 -> 1 with one removed pod still running: it may hold the newest writes.
    unwanted_alive = run_on(fake_mongosh, 1, self=h[0], members=config(*h), down=h[2:], primary=None)
    # 3 of 5 voters answer: they elect a primary themselves, which then removes the others safely.
    majority_left = run_on(fake_mongosh, 3, self=h[0], members=config(*h), down=h[3:], primary=None)
    # Just restarted: the others not heard from yet may still be up, and a primary among them.
    just_restarted = run_on(fake_mongosh, 1, self=h[0], members=config(*h[:3]), unheard=h[1:3], primary=None)
    # Nothing to remove: members that are down come back by themselves.
    nothing_unwanted = run_on(fake_mongosh, 3, self=h[0], members=config(*h[:3]), down=h[1:3], primary=None)
    # A member that is not wanted itself never forces.
    unwanted_self = run_on(fake_mongosh, 1, self=h[1], members=config(*h[:3]), down=[h[0], h[2]], primary=None)
    for run in (primary_holding_on, unwanted_alive, majority_left, just_restarted, nothing_unwanted, unwanted_self):
        assert (run.exit, run.reconfigs) == (0, []), run.error
    assert primary_holding_on.printed == ["rs0 membership: not the primary: the primary reconciles"]


@needs_node
def test_shrinking_5_to_3_with_a_primary_removes_one_member_per_run(fake_mongosh: Path) -> None:
    h = hosts(5)
    members = config(*h)
    removed = []
    for _ in range(3):
        run = run_on(fake_mongosh, 3, self=h[0], members=members, down=h[3:], primary=h[0])
        assert run.exit == 0, run.error
        removed.append(run.reconfigs)
        members = run.members
    assert removed == [[["remove", h[3]]], [["remove", h[4]]], []]
    assert members == config(*h[:3])


@needs_node
def test_the_primary_never_removes_itself(fake_mongosh: Path) -> None:
    """An unwanted primary (its pod is about to go) removes the other unwanted members, then waits to step down."""
    h = hosts(5)
    first = run_on(fake_mongosh, 3, self=h[4], members=config(*h), primary=h[4])
    second = run_on(fake_mongosh, 3, self=h[4], members=first.members, primary=h[4])
    assert (first.reconfigs, second.reconfigs) == ([["remove", h[3]]], [])


# --- errors -----------------------------------------------------------------------------------------------------


@needs_node
def test_a_reconfig_still_settling_is_waited_out(fake_mongosh: Path) -> None:
    h0, _, _ = hosts(3)
    run = run_on(
        fake_mongosh, 3, self=h0, members=config(h0), primary=h0, errors={"add": "CurrentConfigNotCommittedYet"}
    )
    assert (run.exit, run.error) == (0, None)
    assert run.printed == ["rs0 membership: waiting: CurrentConfigNotCommittedYet"]


@needs_node
@pytest.mark.parametrize(
    ("method", "code_name"),
    [("status", "Unauthorized"), ("add", "NewReplicaSetConfigurationIncompatible"), ("initiate", "InvalidOptions")],
)
def test_an_unexpected_error_is_not_swallowed(fake_mongosh: Path, method: str, code_name: str) -> None:
    h0, _, _ = hosts(3)
    world: dict[str, Any] = {"errors": {method: code_name}}
    if method == "initiate":
        world["initiated"] = False
    else:
        world.update(members=config(h0), primary=h0)
    run = run_on(fake_mongosh, 3, self=h0, **world)
    assert run.exit != 0
    assert run.error is not None and code_name in run.error


def test_the_script_keeps_mongoshs_not_initiated_check() -> None:
    """mongosh's rs.status() throws, with codeName NotYetInitialized, on a member no config has reached yet."""
    script = membership_script("mongodb", "chat", 3)
    assert "e.codeName === 'NotYetInitialized'" in script
    assert "rs.reconfig(config, {force: true})" in script


# --- the component ----------------------------------------------------------------------------------------------


def replica_set_with_object_name(recording: Recording) -> tuple[str, dict[str, dict[str, Any]]]:
    url = built(
        lambda: MongoReplicaSet("mongodb", {"namespace": "team", "object_name": "team-c-mongodb", "replicas": 3}).url
    )
    return url, children(recording, "mongodb")


def test_object_name_names_the_kubernetes_objects_and_the_resource_names_stay(recording: Recording) -> None:
    url, owned = replica_set_with_object_name(recording)
    assert sorted(owned) == ["PodDisruptionBudget/mongodb", "Service/mongodb-headless", "StatefulSet/mongodb"]
    statefulset = owned["StatefulSet/mongodb"]
    assert statefulset["metadata"]["name"] == "team-c-mongodb"
    assert statefulset["spec"]["serviceName"] == "team-c-mongodb-headless"
    assert owned["Service/mongodb-headless"]["metadata"]["name"] == "team-c-mongodb-headless"
    assert owned["PodDisruptionBudget/mongodb"]["metadata"]["name"] == "team-c-mongodb"
    assert url == connection_url("team-c-mongodb", "team", 3)
    assert url.startswith("mongodb://team-c-mongodb-0.team-c-mongodb-headless.team.svc.cluster.local:27017,")


def test_the_volume_claims_are_retained_when_deleted_or_scaled(recording: Recording) -> None:
    _, owned = replica_set_with_object_name(recording)
    assert owned["StatefulSet/mongodb"]["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }


def test_every_member_reconciles_in_its_readiness_probe_and_starts_on_a_ping(recording: Recording) -> None:
    _, owned = replica_set_with_object_name(recording)
    [container] = owned["StatefulSet/mongodb"]["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["exec"]["command"][-1] == membership_script("team-c-mongodb", "team", 3)
    assert container["readinessProbe"]["periodSeconds"] == 10
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][-1] == "quit(db.adminCommand({ping: 1}).ok ? 0 : 1)", probe


@needs_node
def test_the_probe_initiates_exactly_the_hosts_the_url_lists(recording: Recording, fake_mongosh: Path) -> None:
    url, owned = replica_set_with_object_name(recording)
    [container] = owned["StatefulSet/mongodb"]["spec"]["template"]["spec"]["containers"]
    url_hosts = urlparse(url).netloc.split(",")
    run = run_script(
        fake_mongosh, container["readinessProbe"]["exec"]["command"][-1], self=url_hosts[0], initiated=False
    )
    assert run.exit == 0, run.error
    [[_, initiated]] = run.reconfigs
    assert [m["host"] for m in initiated["members"]] == url_hosts
    assert url_hosts[0].startswith("team-c-mongodb-0.")
