"""An in-process Pulumi engine: runs the real program against a real stack file and records every resource.

Used by the tests, the manifest dump and the `tools.plan` command alike, so that what the tests check is what the
tools print. Secure values cannot be decrypted without the Pulumi CLI: they are replaced by placeholders (listed as
secret keys, so the program treats them exactly as it would the real ones).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import gc
import hashlib
import json
import runpy
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
from pulumi.runtime import mocks, rpc

from components.inventory import HELM_RELEASE, ObjectRef
from components.passwords import PASSWORD_TYPE
from components.tokens import RELEASE_TYPE
from stack_config.cluster import ClusterUnreadable, LiveObject, answering_reads, live_object
from tools import yamlio

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "rocketchat"
ORGANIZATION = "organization"

# Stand-ins for `secure:` values; realistic enough to pass the program's own checks.
PLACEHOLDER_SECRETS = {
    "rocketchat:mongoUrl": "mongodb://rocketchat:placeholder-password@mongo-0.example.net:27017/rocketchat?replicaSet=rs0",
    "rocketchat:license": "placeholder-licence-text",
}
# The committed stack files hold no `secure:` value (a new stack could not decrypt one): these are the secrets a user
# sets with `pulumi config set --secret` before the first `up` (the stack file's header says so). A run of the stack
# has them set, as the user's stack would, unless it asks for the stack file exactly as committed.
SECRETS_SET_BY_USERS: dict[str, dict[str, str]] = {"prod": dict(PLACEHOLDER_SECRETS)}


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    # How Pulumi identifies and orders it: its URN, its parent's URN and the URNs it waits for.
    urn: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the engine keeps of it after the update: a custom resource's state, a component's registered outputs."""
    ignore_changes: list[str] = field(default_factory=list)
    """Input paths the engine keeps at their last value on an update (the `ignore_changes` option)."""
    additional_secret_outputs: list[str] = field(default_factory=list)
    """Outputs the engine stores encrypted in the state, whatever their inputs (the `additional_secret_outputs`
    option)."""
    retain_on_delete: bool = False
    """`pulumi destroy` (or the program no longer registering it) leaves the object in the cluster."""
    read: bool = False
    """Only read from the cluster (`Resource.get`, a resource with an `id` option): never created or changed."""

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def k8s_name(self) -> str | None:
        return (self.inputs.get("metadata") or {}).get("name")


@dataclass
class Recording:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    logs: list[tuple[str, str]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_ or r.kind == type_]

    def one(self, type_: str, k8s_name: str) -> Resource:
        found = [r for r in self.of_type(type_) if r.k8s_name == k8s_name or r.name == k8s_name]
        assert len(found) == 1, f"expected one {type_} named {k8s_name}, found {[r.name for r in self.of_type(type_)]}"
        return found[0]


def reveal(value: Any) -> Any:
    """Inputs with a secret inside arrive wrapped; unwrap recursively (tests may look, outputs must not)."""
    if rpc.is_rpc_secret(value):
        return reveal(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


@dataclass(frozen=True)
class World:
    """What the engine answers about things outside the program."""

    ingress_status: Mapping[str, Any] | None = None
    """The status an ingress controller published on the Ingress (None: none has)."""
    gateway_status: Mapping[str, Any] | None = None
    """The status of the Gateway a stack's HTTPRoute attaches to, as its controller published it."""
    deployed: Recording | None = None
    """The stack's last update, a run recorded earlier: what `readStackOutputs` / `readStackResourceOutputs` give."""
    busy_checkpoint_reads: int = 0
    """Reads of the stack's state that fail first, as they do while the file backend is saving the checkpoint."""
    cluster: tuple[LiveObject, ...] = ()
    """The objects the cluster holds, as the program's ownership check reads them (stack_config.cluster)."""
    cluster_unreadable: str | None = None
    """Why the cluster cannot be read, where it cannot."""

    def key(self) -> str:
        deployed = self.deployed and [
            self.deployed.outputs,
            [(r.urn, r.type, r.outputs) for r in self.deployed.resources],
        ]
        return json.dumps(
            [
                self.ingress_status,
                self.gateway_status,
                deployed,
                self.busy_checkpoint_reads,
                self.cluster,
                self.cluster_unreadable,
            ],
            sort_keys=True,
            default=repr,
        )

    def read_cluster(self, refs: list[ObjectRef]) -> dict[ObjectRef, LiveObject]:
        """The ownership check's reads, answered as the API server would: the objects asked for that exist."""
        if self.cluster_unreadable is not None:
            raise ClusterUnreadable(self.cluster_unreadable)
        held = {obj.ref: obj for obj in self.cluster}
        return {ref: held[ref] for ref in refs if ref in held}


def live_objects(recording: Recording) -> tuple[LiveObject, ...]:
    """The objects a recorded run leaves in the cluster (a Helm release as its release record), with the owner each
    records: what another stack's ownership check then finds."""
    found = []
    for resource in recording.resources:
        if resource.read or resource.kind.endswith("Patch"):
            continue  # someone else's, only read; or a patch of an object another made
        inputs = reveal(resource.inputs)
        if resource.type == RELEASE_TYPE:
            ref = ObjectRef(HELM_RELEASE, inputs.get("namespace"), inputs.get("name", ""))
            found.append(LiveObject(ref, owner=None, made_by=f"Helm release {ref.name}"))
            continue
        metadata = inputs.get("metadata") if resource.type.startswith("kubernetes:") else None
        if not isinstance(metadata, dict) or not metadata.get("name"):
            continue
        ref = ObjectRef(resource.kind, metadata.get("namespace"), metadata["name"])
        found.append(live_object(ref, {"metadata": {**metadata, "uid": f"uid-{resource.urn}"}}))
    return tuple(found)


class EngineError(grpc.RpcError):
    """An error the engine answers a request with, as the SDK receives it: a gRPC status with its details."""

    def __init__(self, details: str) -> None:
        super().__init__(details)
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, recording: Recording, world: World) -> None:
        self.recording = recording
        self.world = world
        self.busy_reads_left = world.busy_checkpoint_reads
        self.current = threading.local()  # URN, parent and dependencies of the request in hand (RecordingMonitor)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        resource = Resource(args.typ, args.name, dict(args.inputs), read=bool(args.resource_id))
        registration = getattr(self.current, "registration", None)
        if registration is not None:
            (
                resource.urn,
                resource.parent,
                resource.dependencies,
                resource.ignore_changes,
                resource.additional_secret_outputs,
                resource.retain_on_delete,
            ) = registration
        self.recording.resources.append(resource)
        outputs = dict(args.inputs)
        metadata = outputs.get("metadata")
        if args.typ.startswith("kubernetes:") and isinstance(metadata, dict) and not metadata.get("name"):
            # The provider names an object the program leaves unnamed after its resource, with a random suffix.
            suffix = hashlib.sha256(args.name.encode()).hexdigest()[:8]
            outputs["metadata"] = {**metadata, "name": f"{args.name}-{suffix}"}
        if args.typ == PASSWORD_TYPE:
            outputs["result"] = f"generated-{args.name}"
        if args.typ == "kubernetes:networking.k8s.io/v1:Ingress" and self.world.ingress_status is not None:
            outputs["status"] = dict(self.world.ingress_status)
        if args.typ == "kubernetes:gateway.networking.k8s.io/v1:Gateway" and args.resource_id:
            namespace, name = str(args.resource_id).split("/", 1)
            outputs = {
                "metadata": {"name": name, "namespace": namespace},
                "status": dict(self.world.gateway_status or {}),
            }
        if args.typ == RELEASE_TYPE:
            outputs["status"] = {"status": "deployed", "name": args.inputs.get("name")}
        if args.custom:
            resource.outputs = outputs
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        """The engine's built-in functions a program may call: its own stack's last deployment."""
        deployed = self.world.deployed
        if args.token in ("pulumi:pulumi:readStackOutputs", "pulumi:pulumi:readStackResourceOutputs"):
            if self.busy_reads_left > 0:
                self.busy_reads_left -= 1
                # The file backend's answer while it rewrites the checkpoint's attributes file.
                raise EngineError(f"invocation of {args.token} returned an error: failed to load checkpoint: EOF")
        if args.token == "pulumi:pulumi:readStackOutputs":
            return {"name": args.args["name"], "outputs": deployed.outputs if deployed else {}, "secretOutputNames": []}
        if args.token == "pulumi:pulumi:readStackResourceOutputs":
            resources = deployed.resources if deployed else []
            return {
                "name": args.args["stackName"],
                "outputs": {r.urn: {"type": r.type, "outputs": r.outputs} for r in resources},
            }
        raise NotImplementedError(f"the recording engine has no function {args.token}")


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, also noting on each recorded resource its URN, parent and dependencies.

    The SDK registers from a thread pool: what is known of the request in hand is kept per thread for
    `RecordingMocks.new_resource`, which the base class calls on the same thread.
    """

    def __init__(self, recording_mocks: RecordingMocks) -> None:
        super().__init__(recording_mocks)
        self.current = recording_mocks.current
        self.recording = recording_mocks.recording

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self.current.registration = (
            urn,
            request.parent,
            list(request.dependencies),
            list(request.ignoreChanges),
            list(request.additionalSecretOutputs),
            bool(request.retainOnDelete),
        )
        try:
            return super().RegisterResource(request)
        finally:
            self.current.registration = None

    def RegisterResourceOutputs(self, request: Any) -> Any:
        """A component's outputs, kept as the engine keeps them in the stack's state."""
        outputs = rpc.deserialize_properties(request.outputs)
        for resource in self.recording.resources:
            if resource.urn == request.urn:
                resource.outputs = reveal(outputs)
        return super().RegisterResourceOutputs(request)


@functools.lru_cache(maxsize=16)
def _stack_document(path: Path, _mtime_ns: int) -> dict[str, Any]:
    """A stack file, parsed once per version of it (the tests and tools run the same stack many times)."""
    return yamlio.load(path.read_text()) or {}


def stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    as_committed: bool = False,
    project_dir: Path = PROJECT_DIR,
) -> tuple[dict[str, str], list[str]]:
    """The stack file's config as the engine hands it to a program: every value a string, secrets as placeholders.

    `overrides` maps full keys (`rocketchat:host`) to values (any JSON type); `remove` drops keys. Unless
    `as_committed`, the secrets users set for this stack (SECRETS_SET_BY_USERS) come first.
    """
    path = project_dir / f"Pulumi.{stack}.yaml"
    document = _stack_document(path, path.stat().st_mtime_ns)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = PLACEHOLDER_SECRETS.get(key, "placeholder")
            secret_keys.append(key)
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    user_secrets = {} if as_committed else {k: Secret(v) for k, v in SECRETS_SET_BY_USERS.get(stack, {}).items()}
    for key, value in (user_secrets | dict(overrides or {})).items():
        # As `pulumi config set` does: a plain value replaces a secure one as plain text, `--secret` makes it secret.
        if key in secret_keys:
            secret_keys.remove(key)
        if isinstance(value, Secret):
            secret_keys.append(key)
            value = value.value
        config[key] = value if isinstance(value, str) else json.dumps(value)
    for key in remove:
        config.pop(key, None)
    return config, secret_keys


@dataclass(frozen=True)
class Secret:
    """An override to be treated as a `pulumi config set --secret` value."""

    value: Any


_runs: dict[str, Recording] | None = None


def remember_runs() -> None:
    """From now on, a run with the same arguments as an earlier successful one hands back a copy of its recording.

    For test suites, where many tests look at the same stack: the program is deterministic under this engine. Such a
    process also hands its heap back to the garbage collector after each run (see `_run_here`).
    """
    global _runs
    _runs = {} if _runs is None else _runs


def run_program(
    stack: str = "dev",
    overrides: Mapping[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    ingress_status: Mapping[str, Any] | None = None,
    recording: Recording | None = None,
    gateway_status: Mapping[str, Any] | None = None,
    as_committed: bool = False,
    deployed: Recording | None = None,
    project_dir: Path = PROJECT_DIR,
    busy_checkpoint_reads: int = 0,
    cluster: tuple[LiveObject, ...] = (),
    cluster_unreadable: str | None = None,
    preview: bool = False,
) -> Recording:
    """Run `__main__.py` for `stack` under the recording engine; raises what the program raises.

    Pass a `recording` to inspect what was registered even when the program raises (bad config: nothing);
    `as_committed` runs the stack file alone, without the secrets its users set (see SECRETS_SET_BY_USERS);
    `deployed` is the stack's last update (an earlier run's recording), as the engine would read it back; the first
    `busy_checkpoint_reads` reads of it fail as they do while the file backend saves the stack. `cluster` is what the
    cluster holds before the run (`live_objects` of another run), for the program's ownership check; `preview` runs
    it as `pulumi preview` would.
    """
    config = stack_config(stack, overrides, remove, as_committed, project_dir)
    world = World(ingress_status, gateway_status, deployed, busy_checkpoint_reads, tuple(cluster), cluster_unreadable)
    program = Program(project_dir, stack, config, preview)
    if _runs is None or recording is not None:
        return _run(program, world, recording or Recording())
    key = json.dumps([str(project_dir), stack, config, preview, world.key()], sort_keys=True, default=repr)
    if key not in _runs:
        _runs[key] = _run(program, world, Recording())
    return copy.deepcopy(_runs[key])


# The SDK records the whole call stack of every resource it registers (for source positions). Under pytest that stack
# is some sixty frames deep, on a thread of its own about fifteen: programs run there, one at a time, in a copy of the
# caller's context, on one event loop kept from run to run as the main thread's would be.
_PROGRAM_THREAD = ThreadPoolExecutor(
    max_workers=1,
    thread_name_prefix="pulumi-program",
    initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop()),
)


@dataclass(frozen=True)
class Program:
    """A Pulumi program to run: its project directory, the stack, and the config as the engine hands it over (every
    value a string) with its secret keys."""

    project_dir: Path
    stack: str
    config: tuple[dict[str, str], list[str]]
    preview: bool = False

    @property
    def project(self) -> str:
        return str(_stack_document(self.project_dir / "Pulumi.yaml", 0).get("name") or PROJECT)


def _run(program: Program, world: World, recording: Recording) -> Recording:
    context = contextvars.copy_context()
    return _PROGRAM_THREAD.submit(context.run, _run_here, program, world, recording).result()


def _run_here(program: Program, world: World, recording: Recording) -> Recording:
    config, secret_keys = program.config
    stack = program.stack
    recording_mocks = RecordingMocks(recording, world)
    pulumi.runtime.set_mocks(
        recording_mocks,
        project=program.project,
        stack=stack,
        preview=program.preview,
        monitor=RecordingMonitor(recording_mocks),
        # What the file backend (and `pulumi login --local`) calls every stack's organization.
        organization=ORGANIZATION,
    )
    pulumi.runtime.set_all_config(config, secret_keys)

    original_export = pulumi.export
    original_warn = pulumi.log.warn
    exported: dict[str, pulumi.Output[Any]] = {}

    def export(name: str, value: Any) -> None:
        exported[name] = pulumi.Output.from_input(value)
        original_export(name, value)

    async def collect_outputs() -> None:
        for name, output in exported.items():
            recording.outputs[name] = reveal(await output.future())
            if await output.is_secret():
                recording.secret_outputs.add(name)

    def warn(message: str, *args: Any, **kwargs: Any) -> None:
        recording.logs.append(("warn", message))
        original_warn(message, *args, **kwargs)

    @pulumi.runtime.test
    def run_main() -> pulumi.Output[None]:
        pulumi.export, pulumi.log.warn = export, warn
        try:
            with answering_reads(world.read_cluster):
                runpy.run_path(str(program.project_dir / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export, pulumi.log.warn = original_export, original_warn
        return pulumi.Output.from_input(asyncio.ensure_future(collect_outputs()))

    try:
        run_main()
    finally:
        # __main__.py froze the heap it found, as suits a process that runs the program once and exits (the language
        # host's; a tool's; the benchmark's): its exit then skips a last scan of that heap. A process that runs many
        # programs unfreezes after each, or the garbage of one run would stay beyond the collector's reach for good.
        if _runs is not None:
            gc.unfreeze()
    return recording
