"""The Kubernetes "restricted" Pod Security Standard, checked over plain manifests (ours, or anyone's render).

    python -m tools.restricted DIR...    # every YAML file under DIR; exit 1 when a pod breaks the profile

Written from the standard's text, independently of the components that build the pods, plus this project's own
two extras: a read-only root filesystem and no service-account token. Container-level settings override pod-level
ones, as in Kubernetes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools import yamlio

# Volume types the restricted profile allows.
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def pod_template(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod (metadata + spec) a workload object runs, or None for objects that run no pods."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "Pod":
        return {"metadata": doc.get("metadata") or {}, "spec": spec}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}:
        return spec.get("template")
    return None


def _containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            yield f"{field[:-1]} {container.get('name')}", container


def violations(doc: dict[str, Any], *, standard_only: bool = False) -> list[str]:
    """Every way the object's pods break the restricted profile (or this project's extras); [] when they meet it.

    The extras (no service-account token, a read-only root filesystem, an explicit user) are what this project asks
    of its own pods beyond the standard; `standard_only` leaves them out, to judge pods someone else templates.
    """
    template = pod_template(doc)
    if template is None:
        return []
    spec = template.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    problems: list[str] = []

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"pod: {field} is on")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume.get('name')}: type {', '.join(sorted(kinds))} is not allowed")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"pod: sysctl {sysctl.get('name')} is not a safe one")
    if not standard_only and spec.get("automountServiceAccountToken") is not False:
        problems.append("pod: automountServiceAccountToken is not false (a token is mounted)")
    problems += _seccomp_problems("pod", pod_sc, allow_absent=True)
    problems += _selinux_problems("pod", pod_sc)
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod: runAsUser is 0 (root)")

    containers = list(_containers(spec))
    if not containers:
        problems.append("pod: no containers")
    for where, container in containers:
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{where}: hostProcess")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            problems.append(f"{where}: capabilities add {', '.join(sorted(added))}")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"{where}: procMount {sc.get('procMount')}")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort {port['hostPort']}")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if uid is None and not standard_only:
            problems.append(f"{where}: no runAsUser (the image's user, possibly root, would be used)")
        elif uid == 0:
            problems.append(f"{where}: runAsUser is 0 (root)")
        profile = sc.get("seccompProfile") or pod_sc.get("seccompProfile")
        problems += _seccomp_problems(where, {"seccompProfile": profile} if profile else {}, allow_absent=False)
        problems += _selinux_problems(where, sc)
        if not standard_only and sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
    return problems


def _seccomp_problems(where: str, context: dict[str, Any], allow_absent: bool) -> list[str]:
    profile = context.get("seccompProfile")
    if not profile:
        return [] if allow_absent else [f"{where}: no seccompProfile (RuntimeDefault or Localhost)"]
    if profile.get("type") not in ("RuntimeDefault", "Localhost"):
        return [f"{where}: seccompProfile {profile.get('type')} (RuntimeDefault or Localhost)"]
    return []


def _selinux_problems(where: str, context: dict[str, Any]) -> list[str]:
    options = context.get("seLinuxOptions") or {}
    problems = []
    if options.get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t"):
        problems.append(f"{where}: seLinuxOptions.type {options['type']}")
    if options.get("user") or options.get("role"):
        problems.append(f"{where}: seLinuxOptions user/role set")
    return problems


def main(argv: list[str] | None = None) -> int:
    directories = [Path(a) for a in (argv if argv is not None else sys.argv[1:])]
    if not directories:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    failed = 0
    pods = 0
    for path in sorted(p for d in directories for p in d.rglob("*.y*ml")):
        for doc in yamlio.load_all(path.read_text()):
            if not isinstance(doc, dict) or pod_template(doc) is None:
                continue
            pods += 1
            found = violations(doc)
            failed += bool(found)
            for problem in found:
                print(f"{path}: {doc['kind']}/{doc['metadata']['name']}: {problem}")
    print(f"{pods} pod templates checked, {failed} break the restricted profile")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
