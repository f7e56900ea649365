"""Small builders every component shares: labels, restricted security contexts, probes, placement, PDBs.

Kept here so the NATS, MongoDB and Rocket.Chat pods are hardened the same way and a policy change is one edit.

On ordering: a component's `depends_on` orders its children's creation (a child registers only once its parent has,
and the parent only once its dependencies exist), but it is not recorded as a dependency of the children. A child that
reads another resource by a plain name, rather than through that resource's output, lists it in its own `depends_on`.
"""

from __future__ import annotations

import pulumi
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta import v1 as meta
from pulumi_kubernetes.policy import v1 as policy

from components.args import PlacementArgs

PART_OF = "rocketchat"

IMAGE_PULL_POLICY = "Always"
"""Images are pinned by tag, and a tag can be moved: `Always` makes the kubelet resolve it against the registry (and
check the pull credentials) on every start. Layers stay cached, so the cost is one manifest request."""


INSTANCE_POD_LABEL = "rocketchat.chat/instance"
"""Carried by every Rocket.Chat pod of a stack, raw or made by the chart: the stack's NetworkPolicies select on it, so
they hold unchanged while the stack moves between modes or chart releases (and both sets of pods run side by side)."""


def rocketchat_pod_labels(instance: str) -> dict[str, str]:
    return {INSTANCE_POD_LABEL: instance}


def labels(name: str, component: str, instance: str) -> dict[str, str]:
    """Selector labels: stable for the life of a workload (a Deployment's selector is immutable)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
    }


def object_labels(selector: dict[str, str], version: str | None = None) -> dict[str, str]:
    extra = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "pulumi"}
    if version:
        extra["app.kubernetes.io/version"] = version
    return selector | extra


OWNED_ANNOTATIONS = {"pulumi.com/patchForce": "true"}
"""The program is the source of truth for the objects it makes: a field someone changed by hand (`kubectl scale`, which
then owns `.spec.replicas` through its own field manager) is taken back by the next `pulumi up --refresh` instead of
failing it with a server-side apply conflict."""


def metadata(
    name: str,
    namespace: pulumi.Input[str],
    obj_labels: dict[str, str],
    annotations: pulumi.Input[dict[str, str]] | None = None,
) -> meta.ObjectMetaArgs:
    owned: pulumi.Input[dict[str, str]] = (
        annotations.apply(lambda given: OWNED_ANNOTATIONS | (given or {}))
        if isinstance(annotations, pulumi.Output)
        else OWNED_ANNOTATIONS | (annotations or {})
    )
    return meta.ObjectMetaArgs(name=name, namespace=namespace, labels=obj_labels, annotations=owned)


def pod_security(uid: int, fs_group: int | None = None) -> core.PodSecurityContextArgs:
    """Pod-level half of the Kubernetes 'restricted' Pod Security Standard."""
    return core.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=fs_group if fs_group is not None else uid,
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security(uid: int) -> core.SecurityContextArgs:
    """Container-level half: no privilege escalation, no capabilities, read-only root filesystem."""
    return core.SecurityContextArgs(
        allow_privilege_escalation=False,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
        read_only_root_filesystem=True,
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def http_probe(
    path: str,
    port: int | str,
    *,
    period: int = 10,
    failures: int = 3,
    timeout: int = 5,
) -> core.ProbeArgs:
    # No initial delay: a startup probe holds the others back until the process answers.
    return core.ProbeArgs(
        http_get=core.HTTPGetActionArgs(path=path, port=port),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=timeout,
    )


def resources(requests: dict[str, str], limits: dict[str, str]) -> core.ResourceRequirementsArgs:
    return core.ResourceRequirementsArgs(requests=requests, limits=limits)


def scratch_volumes(
    paths: tuple[str, ...], sizes: dict[str, str] | None = None
) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """An emptyDir for each path the process writes, so the root filesystem can be read-only (1Gi unless `sizes`
    says otherwise for a path)."""
    names = [f"scratch-{i}" for i in range(len(paths))]
    volumes = [
        core.VolumeArgs(name=n, empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=(sizes or {}).get(p, "1Gi")))
        for n, p in zip(names, paths, strict=True)
    ]
    mounts = [core.VolumeMountArgs(name=n, mount_path=p) for n, p in zip(names, paths, strict=False)]
    return volumes, mounts


def tolerations(placement: PlacementArgs | None) -> list[core.TolerationArgs] | None:
    return [core.TolerationArgs(**t) for t in (placement or {}).get("tolerations") or []] or None


def hardened_pod_spec(
    *,
    uid: int,
    container: core.ContainerArgs,
    volumes: list[core.VolumeArgs],
    selector: dict[str, str],
    replicas: int,
    placement: PlacementArgs | None,
    termination_grace_period_seconds: int | None = None,
    sidecars: list[core.ContainerArgs] | None = None,
    image_pull_secrets: list[dict[str, str]] | None = None,
) -> core.PodSpecArgs:
    """The pod every component runs: restricted security, no API token, no service-link env, spread, placed."""
    return core.PodSpecArgs(
        image_pull_secrets=[core.LocalObjectReferenceArgs(name=s["name"]) for s in image_pull_secrets or []] or None,
        automount_service_account_token=False,
        # Service links would inject <SERVICE>_PORT variables, which Rocket.Chat's own env handling does not expect.
        enable_service_links=False,
        security_context=pod_security(uid),
        containers=[container, *(sidecars or [])],
        volumes=volumes,
        termination_grace_period_seconds=termination_grace_period_seconds,
        topology_spread_constraints=topology_spread(selector, replicas),
        tolerations=tolerations(placement),
        node_selector=(placement or {}).get("node_selector") or None,
    )


def topology_spread(selector: dict[str, str], replicas: int) -> list[core.TopologySpreadConstraintArgs] | None:
    """Spread replicas over nodes and, where nodes carry zone labels, over zones; best effort, never blocking."""
    if replicas < 2:
        return None
    return [
        core.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key=key,
            when_unsatisfiable="ScheduleAnyway",
            label_selector=meta.LabelSelectorArgs(match_labels=selector),
        )
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]


def disruption_budget(
    name: str,
    namespace: pulumi.Input[str],
    selector: dict[str, str],
    obj_labels: dict[str, str],
    replicas: int,
    opts: pulumi.ResourceOptions,
    object_name: str | None = None,
) -> policy.PodDisruptionBudget | None:
    """Voluntary disruptions (node drains) take at most one pod at a time; nothing to guard below two replicas.
    `object_name`: its Kubernetes name, where it differs from the resource name."""
    if replicas < 2:
        return None
    return policy.PodDisruptionBudget(
        name,
        metadata=metadata(object_name or name, namespace, obj_labels),
        spec=policy.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=meta.LabelSelectorArgs(match_labels=selector),
        ),
        opts=opts,
    )
