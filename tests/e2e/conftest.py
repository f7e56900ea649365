"""End-to-end suite: the real Pulumi CLI, language host and providers against a real Kubernetes API server.

Run it on its own (docs/e2e.md):

    scripts/e2e-toolchain            # once: builds the toolchain into ~/.cache/rocketchat-e2e
    venv/bin/python -m pytest tests/e2e -m e2e

Without a cluster given, the suite starts the local loopback control plane (scripts/e2e-cluster) and stops it at
the end. `E2E_KUBECONFIG=/path` points it at any other cluster instead (e.g. kind), with `E2E_OVERRIDES` naming the
stack settings that cluster needs. Everything skips, saying why, when the toolchain is absent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("E2E_CACHE", Path.home() / ".cache" / "rocketchat-e2e"))
STATE = Path(os.environ.get("E2E_STATE", "/tmp/rocketchat-e2e"))
# The binaries the suite needs beside the CLI (plugins are found on PATH, never downloaded).
NEEDED = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-pulumi-python",  # serves Python dynamic providers
    "pulumi-resource-kubernetes",
    "kubectl",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end against a real API server with the real Pulumi CLI (tests/e2e, run on their own)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def toolchain_bin() -> Path | None:
    """The toolchain's bin folder: E2E_TOOLCHAIN_BIN, else the last one scripts/e2e-toolchain completed."""
    explicit = os.environ.get("E2E_TOOLCHAIN_BIN")
    return Path(explicit) if explicit else CACHE / "current" / "bin"


def missing_tools(bin_dir: Path | None) -> list[str]:
    if bin_dir is None or not bin_dir.is_dir():
        return list(NEEDED)
    needed = list(NEEDED)
    if _program_uses_random():
        needed.append("pulumi-resource-random")
    return [name for name in needed if not os.access(bin_dir / name, os.X_OK)]


def _program_uses_random() -> bool:
    return any("pulumi_random" in p.read_text() for p in (REPO / "components").glob("*.py"))


# --- timings -----------------------------------------------------------------------------------------------------
TIMINGS: dict[str, float] = {}
REPORT: list[str] = []
"""What the scenarios saw in the API (ReplicaSets before and after, where env comes from, what was left): printed at
the end of the run and kept beside the timings."""


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    if REPORT:
        terminalreporter.section("e2e report")
        for line in REPORT:
            terminalreporter.write_line(line)
    if not TIMINGS:
        return
    terminalreporter.section("e2e timings")
    for step, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{step:<44} {seconds:8.1f} s")
    # kept in the toolchain cache, not in E2E_STATE, which the next `scripts/e2e-cluster start` wipes
    folder = CACHE / "timings"
    out = folder / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(TIMINGS, indent=2) + "\n")
        (folder / "latest.json").write_text(out.read_text())
        if REPORT:
            out.with_suffix(".report.txt").write_text("\n".join(REPORT) + "\n")
            (folder / "latest.report.txt").write_text("\n".join(REPORT) + "\n")
        terminalreporter.write_line(f"(written to {out} and {folder / 'latest.json'})")
    except OSError:
        pass


# --- the cluster -------------------------------------------------------------------------------------------------
@dataclass
class Cluster:
    kubeconfig: Path
    kubectl: Path
    local: bool
    """True for the loopback control plane with kwok nodes (scripts/e2e-cluster)."""
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.kubectl), "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input, env=self.env, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def items(self, kind: str, namespace: str | None = None) -> list[dict]:
        where = ["-n", namespace] if namespace else ["--all-namespaces"]
        return self.json("get", kind, *where)["items"]


@pytest.fixture(scope="session")
def tools() -> Path:
    bin_dir = toolchain_bin()
    missing = missing_tools(bin_dir)
    if missing:
        pytest.skip(
            f"e2e toolchain absent ({', '.join(missing)} not in {bin_dir}): build it with scripts/e2e-toolchain "
            "(see docs/e2e.md)"
        )
    assert bin_dir is not None
    return bin_dir


@pytest.fixture(scope="session")
def cluster(tools: Path) -> Iterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    kubectl = tools / "kubectl"
    given = os.environ.get("E2E_KUBECONFIG")
    if given:
        yield Cluster(Path(given), kubectl, local=False, env=env)
        return
    script = REPO / "scripts" / "e2e-cluster"
    started = False
    status = subprocess.run([str(script), "status"], capture_output=True, text=True, env=env)
    if status.returncode != 0:
        t0 = time.monotonic()
        # Once in a while a component of the local control plane exits as it starts (seen once: kube-apiserver,
        # before writing a line of its log); a second start from a clean state has always come up.
        failures = []
        for _ in range(2):
            proc = subprocess.run([str(script), "start"], capture_output=True, text=True, env=env, timeout=300)
            if proc.returncode == 0:
                break
            failures.append(f"{proc.stderr}{proc.stdout}")
            subprocess.run([str(script), "stop"], capture_output=True, text=True, env=env)
        else:
            pytest.fail("scripts/e2e-cluster start failed twice:\n" + "\n--- again:\n".join(failures))
        if failures:
            REPORT.append(f"cluster: the first start failed, the second came up: {failures[0].strip()[-300:]}")
        TIMINGS["cluster start"] = time.monotonic() - t0
        started = True
    try:
        yield Cluster(STATE / "kubeconfig", kubectl, local=True, env=env)
    finally:
        if started and os.environ.get("E2E_KEEP_CLUSTER") != "1":
            subprocess.run([str(script), "stop"], capture_output=True, text=True, env=env)


# --- the prometheus-operator CRDs --------------------------------------------------------------------------------
MONITORING_GROUP = "monitoring.coreos.com"
MONITORING_KINDS = {
    "PodMonitor": "podmonitors",
    "PrometheusRule": "prometheusrules",
    "ServiceMonitor": "servicemonitors",
}
"""The kinds whose CRDs `scripts/e2e-toolchain crds` keeps, by their plural (the file and resource names)."""
FIELD_MANAGER = "rocketchat-e2e"


@dataclass(frozen=True)
class MonitoringCrds:
    """The prometheus-operator CRDs as the cluster serves them for this session."""

    version: str
    """The prometheus-operator release they come from (the module version, e.g. `v0.94.1`)."""
    directory: Path
    """The verified CRD files (`$E2E_CACHE/crds/prometheus-operator/<version>/`)."""
    kinds: tuple[str, ...]
    """`PodMonitor`, `PrometheusRule`, `ServiceMonitor`: each Established."""
    applied: tuple[str, ...]
    """The CRDs served for this session (those it created are deleted when it ends: `installed_crds`)."""


def _crd_files(command: str, what: str) -> Path:
    """Where scripts/e2e-toolchain keeps verified CRD files (`crds-dir`, `gateway-crds-dir`); skips when they have
    not been fetched, before any cluster is started for them."""
    script = REPO / "scripts" / "e2e-toolchain"
    proc = subprocess.run([str(script), command], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        said = " ".join(proc.stderr.split()) or f"exit code {proc.returncode}"
        pytest.skip(f"no {what} CRDs in the e2e cache: {said}")
    return Path(proc.stdout.strip())


@pytest.fixture(scope="session")
def monitoring_crd_files() -> Path:
    return _crd_files("crds-dir", "prometheus-operator")


def _crd_name(plural: str, group: str = MONITORING_GROUP) -> str:
    return f"{plural}.{group}"


@contextlib.contextmanager
def installed_crds(cluster: Cluster, directory: Path, group: str, plurals: list[str], label: str) -> Iterator[str]:
    """CRDs of `group` from the verified files in `directory` (named `<group>_<plural>.yaml`), applied (server-side,
    field manager `rocketchat-e2e`), Established and served, so that the API server judges objects of their kinds.

    On the local cluster they are applied whatever is there; on another cluster (E2E_KUBECONFIG) a CRD already there
    is used as it is, never replaced. The CRDs this session applied are deleted when it ends (with any object of their
    kinds left), so a cluster kept across runs, or another one, is left as it was found. Yields their version."""
    version = next(
        line.split("=", 1)[1]
        for line in (directory / "fetch.txt").read_text().splitlines()
        if line.startswith("version=")
    )
    t0 = time.monotonic()
    present = {
        name.removeprefix("customresourcedefinition.apiextensions.k8s.io/")
        for name in cluster.run("get", "customresourcedefinitions", "-o", "name").stdout.split()
    }
    to_apply = [p for p in plurals if cluster.local or _crd_name(p, group) not in present]
    applied = tuple(_crd_name(p, group) for p in to_apply if _crd_name(p, group) not in present)
    try:
        for plural in to_apply:
            file = directory / f"{group}_{plural}.yaml"
            cluster.run(
                "apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}", "-f", str(file)
            )
        names = [f"customresourcedefinition/{_crd_name(p, group)}" for p in plurals]
        cluster.run("wait", "--for=condition=Established", "--timeout=60s", *names)
        # Established, and served: a list of each kind answers (kubectl refreshes its discovery when it must)
        for plural in plurals:
            deadline = time.monotonic() + 30
            while cluster.run(
                "get", _crd_name(plural, group), "--all-namespaces", "-o", "name", check=False
            ).returncode:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{_crd_name(plural, group)} is Established but its objects cannot be listed")
                time.sleep(0.5)
        TIMINGS[f"{label}: apply, Established"] = time.monotonic() - t0
        kept = sorted({_crd_name(p, group) for p in plurals} - set(applied))
        REPORT.append(
            f"{label} {version} (from {directory}): applied {', '.join(applied) or 'none'}"
            + (f"; already there: {', '.join(kept)}" if kept else "")
        )
        yield version
    finally:
        if applied:
            cluster.run("delete", "customresourcedefinitions", *applied, "--ignore-not-found", check=False)


@pytest.fixture(scope="session")
def monitoring_crds(monitoring_crd_files: Path, cluster: Cluster) -> Iterator[MonitoringCrds]:
    """The PodMonitor, PrometheusRule and ServiceMonitor CRDs of the locked prometheus-operator version, installed
    for the session (`installed_crds`)."""
    plurals = list(MONITORING_KINDS.values())
    with installed_crds(cluster, monitoring_crd_files, MONITORING_GROUP, plurals, "monitoring CRDs") as version:
        present = {_crd_name(p) for p in plurals}
        yield MonitoringCrds(version, monitoring_crd_files, tuple(MONITORING_KINDS), tuple(sorted(present)))


GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_PLURALS = ["gatewayclasses", "gateways", "httproutes", "referencegrants"]
"""The standard channel's CRDs the stack's route needs (`scripts/e2e-toolchain gateway-crds` keeps them)."""


@pytest.fixture(scope="session")
def gateway_crds(cluster: Cluster) -> Iterator[str]:
    """The Gateway API's standard-channel CRDs of the locked sigs.k8s.io/gateway-api version, installed for the
    session; yields the version."""
    directory = _crd_files("gateway-crds-dir", "Gateway API")
    with installed_crds(cluster, directory, GATEWAY_GROUP, GATEWAY_PLURALS, "Gateway API CRDs") as version:
        yield version


# --- the project, the backend and the CLI ------------------------------------------------------------------------
@dataclass
class Pulumi:
    bin_dir: Path
    workdir: Path
    stack: str
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / "pulumi"), *args, "--non-interactive"]
        proc = subprocess.run(cmd, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed ({proc.returncode}):\n--- stdout\n{proc.stdout[-8000:]}\n"
                f"--- stderr\n{proc.stderr[-8000:]}"
            )
        return proc

    def timed(self, step: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        t0 = time.monotonic()
        try:
            return self.run(*args, check=check)
        finally:
            TIMINGS[step] = time.monotonic() - t0

    def outputs(self) -> dict:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets", "-s", self.stack).stdout)


_COPY_IGNORE = shutil.ignore_patterns(
    "venv", ".git", "tests", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.pyc"
)


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project (the real program and stack files) in a temp dir, sharing the repo's venv."""
    if not (REPO / "venv" / "bin" / "python").exists():
        pytest.skip("venv/ is missing: run scripts/setup first")
    work = tmp_path_factory.mktemp("project") / "rocketchat"
    shutil.copytree(REPO, work, ignore=_COPY_IGNORE)
    (work / "venv").symlink_to(REPO / "venv")
    return work


@pytest.fixture(scope="session")
def pulumi(tools: Path, cluster: Cluster, project: Path, tmp_path_factory: pytest.TempPathFactory) -> Pulumi:
    home = tmp_path_factory.mktemp("pulumi-home")
    backend = tmp_path_factory.mktemp("backend")
    env = {
        **cluster.env,
        "PATH": f"{tools}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PULUMI_HOME": str(home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_CONFIG_PASSPHRASE": "e2e-only-passphrase",
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "KUBECONFIG": str(cluster.kubeconfig),
        "NO_COLOR": "1",
    }
    env.pop("PULUMI_ACCESS_TOKEN", None)
    cli = Pulumi(tools, project, os.environ.get("E2E_STACK", "e2e"), env)
    # Installing a package (`pulumi package add`, a YAML program's `packages:`) asks for the Kubernetes plugin at the
    # version of the Python SDK it lists, which nothing may download here: the toolchain's provider is installed
    # under that version, as `pulumi plugin install --file` does on any machine without the registry.
    from importlib.metadata import version

    sdk = version("pulumi_kubernetes")
    cli.run(
        "plugin", "install", "resource", "kubernetes", f"v{sdk}", "--file", str(tools / "pulumi-resource-kubernetes")
    )
    return cli


# --- the pinned chart, from a Helm repository on 127.0.0.1 ----------------------------------------------------------
@dataclass
class ChartRepository:
    url: str
    directory: Path


def _chart_version() -> str:
    from components.versions import DEFAULT_CHART_VERSION

    return DEFAULT_CHART_VERSION


def _repository_directory(scratch: Path) -> Path:
    """E2E_CHART_REPO_DIR (an export of the chart repository as published: its index.yaml and archives), else a
    repository of one chart made by Helm (`helm repo index`) from the archive `scripts/fetch-chart` keeps."""
    given = os.environ.get("E2E_CHART_REPO_DIR")
    if given:
        return Path(given)
    import helm_python

    version = _chart_version()
    cache = Path(os.environ.get("ROCKETCHAT_CHART_CACHE") or Path.home() / ".cache" / "rocketchat-chart")
    archive = cache / version / f"rocketchat-{version}.tgz"
    if not archive.is_file():
        pytest.skip(
            f"no Helm repository for the helm-mode scenarios: set E2E_CHART_REPO_DIR to an export of the chart "
            f"repository (its index.yaml and charts/), or fetch the pinned chart with scripts/fetch-chart ({archive} "
            "is missing)"
        )
    shutil.copyfile(archive, scratch / archive.name)
    helm_python.repo_index_generate(scratch)
    return scratch


@contextlib.contextmanager
def serve_chart_repository(scratch: Path) -> Iterator[ChartRepository]:
    """The pinned chart served over HTTP on 127.0.0.1 (a free port), for helm.v3.Release's `repositoryOpts.repo`;
    the server is stopped by its own PID when the block ends."""
    directory = _repository_directory(scratch)
    assert (directory / "index.yaml").is_file(), f"{directory} holds no index.yaml"
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(directory), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        port = int(line.split(" port ")[1].split()[0])
        yield ChartRepository(f"http://127.0.0.1:{port}", directory)
    finally:
        server.terminate()
        server.wait(timeout=10)


if TYPE_CHECKING:
    from tests.e2e.support import Progress


@pytest.fixture(scope="module")
def progress() -> Progress:
    """The steps of this module's scenario that passed: a step whose predecessor failed is skipped."""
    from tests.e2e.support import Progress  # support builds on this module

    return Progress()


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartRepository]:
    with serve_chart_repository(tmp_path_factory.mktemp("chart-repo")) as repository:
        yield repository
