"""`python -m tools.plan diff`: the git side (tools.plan.revision) and the command line, end to end.

`diff` runs from the command line in a throwaway git repository holding a copy of this project: one commit as the
base, then a --set override on the working tree, as in a pull request. The pure parts have their own files:
tests/test_quantity.py, tests/test_plan_summary.py, tests/test_plan_diff.py, tests/test_plan_render.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.plan_support import CHART_DIR, secret_values
from tools.plan.diff import compare_renders, format_text
from tools.plan.render import CHART_DIR_ENV, render_stack
from tools.plan.revision import TOOLS_SUPPORT, export_revision

PROJECT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> str:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, *, with_tools: bool = True, stacks: tuple[str, ...] = ("dev", "prod")) -> Path:
    """A git repository whose one commit holds this project's program, stack files and (optionally) tools.

    Without tools, the commit is a base that predates them: it also lacks what the tools import from outside tools/
    (components/quantity.py), and the working tree gets both, uncommitted, as in the change that adds them."""
    repo = root / "repo"
    repo.mkdir()
    for name in ("__main__.py", "Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in stacks)):
        shutil.copy(PROJECT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("components", "stack_config"):  # the program: its components and its config adapter
        shutil.copytree(PROJECT / package, repo / package, ignore=ignore)
    if with_tools:
        shutil.copytree(PROJECT / "tools", repo / "tools", ignore=ignore)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    if not with_tools:
        git(repo, "rm", "-q", "--cached", *TOOLS_SUPPORT)
    git(repo, "commit", "-q", "-m", "base")
    if not with_tools:
        shutil.copytree(PROJECT / "tools", repo / "tools", ignore=ignore)
    return repo


def run_diff(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CHART_DIR_ENV}
    return subprocess.run(
        [sys.executable, "-m", "tools.plan", "diff", *args], cwd=repo, env=env, capture_output=True, text=True
    )


def changed_keys(output: str) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {"changed": set(), "added": set(), "removed": set()}
    for line in output.splitlines():
        title, _, key = line.strip().partition(": ")
        if line.startswith("  ") and title in keys:
            keys[title].add(key)
    return keys


def test_a_replica_change_diffs_as_exactly_the_objects_it_touches() -> None:
    # What `diff` does with its two renders, in-process (git export, subprocesses and the CLI: the next tests).
    services = yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())["config"]["rocketchat:services"]
    services["presence"]["replicas"] = 2
    before = json.loads(json.dumps(render_stack("dev").to_json()))
    after = json.loads(json.dumps(render_stack("dev", {"rocketchat:services": services}).to_json()))

    out = format_text(compare_renders("dev", "HEAD", before, after))
    assert out.splitlines()[0].startswith("dev against HEAD: 1 changed, 1 added, 0 removed (")
    assert changed_keys(out) == {
        "changed": {"Deployment/rocketchat-dev/rocketchat-presence"},
        "added": {"PodDisruptionBudget/rocketchat-dev/rocketchat-presence"},  # guarded from two replicas on
        "removed": set(),
    }
    assert "-  replicas: 1\n+  replicas: 2\n" in out
    assert "| 7 pods |" in out.splitlines()[1] and "| 8 pods |" in out.splitlines()[2]
    secrets = secret_values("dev")
    assert not [s for s in secrets if s in out]


def test_diff_of_a_host_change_shows_the_ingress_and_release_values_and_no_secret(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, with_tools=False)  # a base that predates tools/: the working tree's tools render it

    chart = ["--chart-dir", CHART_DIR] if CHART_DIR else []
    result = run_diff(repo, "--stack", "prod", "--base", "HEAD", "--set", "rocketchat:host=chat.example.org", *chart)
    assert result.returncode == 0, result.stderr  # the command line, end to end
    expected = {"Ingress/rocketchat/rocketchat", "Release/rocketchat/rocketchat (values)"}
    if CHART_DIR:  # the chart puts the host in the monolith's ROOT_URL only (its own Ingress is off)
        expected.add("chart rocketchat: Deployment/rocketchat/rocketchat-rocketchat")
    assert changed_keys(result.stdout) == {"changed": expected, "added": set(), "removed": set()}
    assert "-  - host: chat.example.com\n+  - host: chat.example.org\n" in result.stdout
    assert not [s for s in secret_values("prod") if s in result.stdout]


def test_an_exported_base_keeps_its_own_program_and_gets_the_tools_of_the_working_tree(tmp_path: Path) -> None:
    grammar = {support: (PROJECT / support).read_text() for support in TOOLS_SUPPORT}
    repo = make_repo(tmp_path)
    (repo / "tools" / "plan" / "cli.py").write_text("# the working tree's tools\n")
    (repo / "components" / "quantity.py").write_text("# the working tree's grammar\n")
    exported = export_revision("HEAD", "dev", tmp_path / "export", project_dir=repo)
    assert (exported / "tools" / "plan" / "cli.py").read_text() == "# the working tree's tools\n"
    assert {support: (exported / support).read_text() for support in TOOLS_SUPPORT} == grammar  # the base's own
    assert not list(exported.rglob("__pycache__"))

    (tmp_path / "older").mkdir()
    older = make_repo(tmp_path / "older", with_tools=False)  # a base older than components/quantity.py gets it
    exported = export_revision("HEAD", "dev", tmp_path / "older-export", project_dir=older)
    assert {support: (exported / support).read_text() for support in TOOLS_SUPPORT} == grammar


def test_diff_explains_a_base_without_the_stack_or_an_unknown_revision(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, stacks=("dev",))
    shutil.copy(PROJECT / "Pulumi.prod.yaml", repo / "Pulumi.prod.yaml")

    missing = run_diff(repo, "--stack", "prod", "--base", "HEAD")
    assert missing.returncode == 2
    assert "has no Pulumi.prod.yaml (the stack file of 'prod')" in missing.stderr
    assert "Traceback" not in missing.stderr

    unknown = run_diff(repo, "--stack", "dev", "--base", "origin/no-such-branch")
    assert unknown.returncode == 2
    assert "unknown revision 'origin/no-such-branch'" in unknown.stderr
