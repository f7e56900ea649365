"""A stack never takes over, changes or deletes what is not its own, and never drops its database's data.

The recording engine answers the program's reads of the cluster from `live_objects` of another run (what that stack
left in the cluster) and its reads of the stack's own state from `deployed` (its last update).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.inventory import HELM_RELEASE, ObjectRef, stack_objects
from components.ownership import OWNER_ANNOTATION
from stack_config import load_settings
from stack_config.cluster import LiveObject
from stack_config.diagnostics import ConfigError
from stack_config.ownership import OwnershipError
from stack_config.reading import decode_stack_config
from tools.engine import Recording, live_objects, reveal, run_program, stack_config
from tools.variants import OBSERVED_PROD_RAW

SHARED = {"rocketchat:namespace": "rc-shared"}
TEAM_C = {
    **SHARED,
    "rocketchat:createNamespace": False,
    "rocketchat:instance": "team-c",
    "rocketchat:host": "c.example",
}


def registered_objects(recording: Recording) -> list[ObjectRef]:
    """The Kubernetes objects (and Helm releases) a run registered, as the inventory names them."""
    found = []
    for resource in recording.resources:
        if resource.read or resource.kind.endswith("Patch"):
            continue  # a Gateway someone else owns, only read; a patch of an object the chart made
        inputs = reveal(resource.inputs)
        if resource.kind == "Release":
            found.append(ObjectRef(HELM_RELEASE, inputs["namespace"], inputs["name"]))
        elif resource.type.startswith("kubernetes:"):
            metadata = inputs["metadata"]
            found.append(ObjectRef(resource.kind, metadata.get("namespace"), metadata["name"]))
    return found


def settings_args(stack: str, overrides: dict[str, Any]) -> Any:
    """The stack's args as the program derives them from the same config."""
    config, secret_keys = stack_config(stack, overrides)
    return load_settings(stack, *decode_stack_config(config, secret_keys)).args


VARIANTS = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "prod raw": ("prod", {"rocketchat:mode": "raw"}),
    "prod raw observed": ("prod", OBSERVED_PROD_RAW),
    "prod helm monitored": ("prod", {"rocketchat:monitoring": {"podMonitor": True, "prometheusRule": True}}),
    "helm bundled nats": ("prod", {"rocketchat:nats": {"bundled": True, "replicas": 2}}),
    "dev monolith": ("dev", {"rocketchat:microservices": False}),
    "dev three mongo members": ("dev", {"rocketchat:mongodb": {"inCluster": {"replicas": 3}}}),
    "team-c in a shared namespace": ("dev", TEAM_C),
    "prod on a gateway": ("prod", {"rocketchat:gateway": {"parentRefs": [{"name": "public", "namespace": "gw"}]}}),
    "prod on both": (
        "prod",
        {"rocketchat:gateway": {"parentRefs": [{"name": "public"}]}, "rocketchat:ingress": {"enabled": True}},
    ),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_inventory_the_program_checks_is_exactly_what_it_registers(variant: str) -> None:
    """What the ownership check reads before the run is what the run then creates: nothing escapes the check."""
    stack, overrides = VARIANTS[variant]
    recording = run_program(stack, overrides)
    assert sorted(stack_objects(settings_args(stack, overrides))) == sorted(registered_objects(recording))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_records_the_stack_that_owns_it(stack: str) -> None:
    recording = run_program(stack)
    owners = {
        r.k8s_name: (reveal(r.inputs)["metadata"].get("annotations") or {}).get(OWNER_ANNOTATION)
        for r in recording.resources
        if r.type.startswith("kubernetes:") and r.kind != "Release"
    }
    assert owners and set(owners.values()) == {f"organization/rocketchat/{stack}"}


def refused(stack: str, overrides: dict[str, Any], **world: Any) -> tuple[OwnershipError, Recording]:
    recording = Recording()
    with pytest.raises(OwnershipError) as error:
        run_program(stack, overrides, recording=recording, **world)
    return error.value, recording


def test_a_copied_stack_file_is_refused_before_it_takes_over_the_first_workspace() -> None:
    """Stack B, a copy of A's stack file with another host: A's objects are all in the cluster, owned by A."""
    team_a = run_program("dev", SHARED)
    error, recording = refused(
        "prod", {**SHARED, "rocketchat:mode": "raw", "rocketchat:host": "b.example"}, cluster=live_objects(team_a)
    )
    assert recording.resources == []  # nothing registered, so nothing created, nothing to destroy later
    message = str(error)
    assert message.startswith("Pulumi.prod.yaml: this update would take over")
    assert (
        "rocketchat:namespace: Namespace rc-shared already exists and belongs to stack organization/rocketchat/dev"
        in (message)
    )
    assert "`pulumi config set rocketchat:createNamespace false`" in message
    assert "rocketchat:instance: StatefulSet rc-shared/rocketchat-nats already exists and belongs to stack" in message
    # Every object the copy would have created over A's is named, not only the first.
    assert len(error.problems) == len(
        set(stack_objects(settings_args("prod", {**SHARED, "rocketchat:mode": "raw"})))
        & {o.ref for o in live_objects(team_a)}
    )


def test_a_second_instance_in_the_shared_namespace_shares_no_name_and_deploys() -> None:
    team_a = run_program("dev", SHARED)
    team_c = run_program("dev", TEAM_C, cluster=live_objects(team_a))
    names_a, names_c = set(registered_objects(team_a)), set(registered_objects(team_c))
    assert names_a & names_c == set()
    assert ObjectRef("StatefulSet", "rc-shared", "team-c-nats") in names_c
    assert ObjectRef("StatefulSet", "rc-shared", "team-c-mongodb") in names_c


def test_an_object_nobody_made_with_this_program_is_not_adopted_silently() -> None:
    by_hand = LiveObject(ObjectRef("Secret", "rocketchat-dev", "rocketchat-mongodb"), owner=None, uid="x")
    error, recording = refused("dev", {}, cluster=(by_hand,))
    assert recording.resources == []
    assert error.problems == [
        (
            "rocketchat:instance: Secret rocketchat-dev/rocketchat-mongodb already exists and no stack of this "
            "program made it: this update would take it over without asking. Give this stack an instance of its own "
            "(`pulumi config set rocketchat:instance <name>`: every object of the stack is named after it) or another "
            "namespace; to take the object over on purpose, `pulumi import` it into this stack first "
            "(docs/ownership.md)"
        )
    ]


def test_a_release_installed_by_hand_is_named_with_the_way_to_adopt_it() -> None:
    release = LiveObject(ObjectRef(HELM_RELEASE, "rocketchat", "rocketchat"), owner=None, made_by="Helm release x")
    error, _ = refused("prod", {}, cluster=(release,))
    assert error.problems[0].startswith(
        "rocketchat:chart.releaseName: HelmRelease rocketchat/rocketchat already exists"
    )
    assert "`pulumi import`" in error.problems[0]


def test_the_stacks_own_objects_are_its_own_whatever_they_carry() -> None:
    """A stack made before objects recorded their owner: its state holds them, so its next update goes on."""
    first = run_program("dev")
    unmarked = tuple(LiveObject(o.ref, owner=None, uid=o.uid) for o in live_objects(first))
    again = run_program("dev", deployed=first, cluster=unmarked)
    assert sorted(registered_objects(again)) == sorted(registered_objects(first))


def test_objects_left_by_the_same_stack_are_found_again() -> None:
    """A namespace kept on destroy carries the stack as owner: the stack's next first `up` takes it back."""
    kept = LiveObject(ObjectRef("Namespace", None, "rocketchat-dev"), owner="organization/rocketchat/dev")
    assert run_program("dev", cluster=(kept,)).resources


def test_an_unreadable_cluster_is_a_warning_in_a_preview_and_an_error_in_an_update() -> None:
    preview = run_program("dev", cluster_unreadable="no usable kubeconfig", preview=True)
    assert any("ownership not checked: the cluster could not be read" in m for _, m in preview.logs)
    error, recording = refused("dev", {}, cluster_unreadable="no usable kubeconfig")
    assert recording.resources == [] and "could not be read (no usable kubeconfig)" in str(error)


# --- data -----------------------------------------------------------------------------------------------------


def rejected(overrides: dict[str, Any], deployed: Recording) -> ConfigError:
    recording = Recording()
    with pytest.raises(ConfigError) as error:
        run_program("dev", overrides, recording=recording, deployed=deployed)
    assert recording.resources == []
    return error.value


@pytest.fixture(scope="module")
def dev_with_three_members() -> Recording:
    return run_program("dev", {"rocketchat:mongodb": {"inCluster": {"replicas": 3}}})


THREE = {"inCluster": {"replicas": 3}}


def test_moving_the_namespace_of_a_stack_with_its_database_is_refused(dev_with_three_members: Recording) -> None:
    error = rejected({"rocketchat:mongodb": THREE, "rocketchat:namespace": "elsewhere"}, dev_with_three_members)
    (problem,) = error.problems
    assert problem.startswith(
        "rocketchat:namespace: the in-cluster MongoDB's data (claims data-rocketchat-mongodb-0, "
        "data-rocketchat-mongodb-1, data-rocketchat-mongodb-2 in namespace rocketchat-dev) would be deleted with "
        "namespace rocketchat-dev, which this stack made"
    )
    assert "mongodump --archive" in problem and "rocketchat:mongodb.allowDataLoss true" in problem


def test_the_opt_in_lets_the_data_go_and_says_so(dev_with_three_members: Recording) -> None:
    moved = run_program(
        "dev",
        {"rocketchat:mongodb": {**THREE, "allowDataLoss": True}, "rocketchat:namespace": "elsewhere"},
        deployed=dev_with_three_members,
    )
    assert any("allowDataLoss is true" in m for _, m in moved.logs)
    assert moved.one("Namespace", "elsewhere")


def test_dropping_the_in_cluster_database_is_refused(dev_with_three_members: Recording) -> None:
    error = rejected(
        {"rocketchat:mongodb": {}, "rocketchat:mongoUrl": "mongodb://db.example/rc?replicaSet=rs0"},
        dev_with_three_members,
    )
    assert any(p.startswith("rocketchat:mongodb.inCluster: without it this stack stops") for p in error.problems)


def test_a_new_storage_class_for_the_database_is_refused(dev_with_three_members: Recording) -> None:
    error = rejected(
        {"rocketchat:mongodb": {"inCluster": {"replicas": 3, "storageClassName": "fast"}}}, dev_with_three_members
    )
    assert error.problems[0].startswith(
        "rocketchat:mongodb.inCluster.storageClassName: the database's claims were made with storage class (the "
        "cluster default) and a claim never changes class"
    )


def test_no_longer_creating_the_namespace_would_delete_it_and_is_refused() -> None:
    error = rejected({"rocketchat:createNamespace": False}, run_program("dev"))
    assert error.problems[0].startswith(
        "rocketchat:createNamespace: this stack made namespace rocketchat-dev (its last `pulumi up`), and with "
        "createNamespace false it would stop managing it: Pulumi would delete the namespace"
    )


def test_growing_the_database_is_not_refused(dev_with_three_members: Recording) -> None:
    grown = run_program("dev", {"rocketchat:mongodb": {"inCluster": {"replicas": 5}}}, deployed=dev_with_three_members)
    assert reveal(grown.one("StatefulSet", "rocketchat-mongodb").inputs)["spec"]["replicas"] == 5


def test_keep_on_destroy_retains_the_namespace_and_nothing_else() -> None:
    kept = run_program("dev", {"rocketchat:mongodb": {"inCluster": {"replicas": 1}, "keepOnDestroy": True}})
    retained = {r.k8s_name for r in kept.resources if r.retain_on_delete}
    assert retained == {"rocketchat-dev"}
    assert not any(r.retain_on_delete for r in run_program("dev").resources)


def test_a_release_imported_before_the_first_up_is_the_stacks_own() -> None:
    """README's adoption: `pulumi import` of a hand-installed release, then `pulumi up`. The stack has no outputs yet
    (no update finished), but its state holds the release: the update goes on."""
    release = LiveObject(ObjectRef(HELM_RELEASE, "rocketchat", "rocketchat"), owner=None, made_by="Helm release x")
    refused("prod", {}, cluster=(release,))  # not imported: refused (above)
    (imported,) = [r for r in run_program("prod").resources if r.kind == "Release"]
    state = Recording(resources=[imported], outputs={})
    assert run_program("prod", cluster=(release,), deployed=state).of_type("Release")
