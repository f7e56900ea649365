"""The git side of `diff`: the project as of another revision, rendered there, next to the working tree's render.

The base revision is exported with `git archive` into a temporary directory and rendered there, in a subprocess of
the same Python (`python -m tools.plan render --json`), by the working tree's tools/: so a revision that predates
these tools can be diffed, and a change to the tools never shows up as a change to the manifests. Nothing in the
repository (index, worktrees) is touched.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools.plan.diff import PlanDiff, compare_renders
from tools.plan.errors import PlanError
from tools.plan.render import CHART_DIR_ENV
from tools.redaction import REDACTION_KEY_ENV

PROJECT_DIR = Path(__file__).resolve().parents[2]
TOOLS_SUPPORT = ("components/quantity.py",)
"""Files outside tools/ that the tools import. An exported revision that has none of its own (it predates them) gets
the working tree's; one that has its own keeps it, so the base's program stays the base's."""


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def export_revision(rev: str, stack: str, destination: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """The project as of `rev`, unpacked into `destination` with the working tree's tools/ laid over it."""
    if _git(["rev-parse", "--git-dir"], project_dir).returncode != 0:
        raise PlanError(f"{project_dir} is not in a git repository: diff needs one")
    resolved = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], project_dir)
    if resolved.returncode != 0:
        raise PlanError(
            f"unknown revision {rev!r}: give a commit, branch or tag this clone has (for a pull request's base, "
            "fetch it first, e.g. `git fetch origin main`, and use origin/main)"
        )
    commit = resolved.stdout.decode().strip()
    prefix = _git(["rev-parse", "--show-prefix"], project_dir).stdout.decode().strip()
    for required, why in ((f"Pulumi.{stack}.yaml", f"the stack file of {stack!r}"), ("__main__.py", "the program")):
        if _git(["cat-file", "-e", f"{commit}:{prefix}{required}"], project_dir).returncode != 0:
            raise PlanError(f"{rev} ({commit[:12]}) has no {prefix}{required} ({why}): nothing to compare against")
    archive = _git(["archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit], project_dir)
    if archive.returncode != 0:
        raise PlanError(f"git archive of {rev} failed: {archive.stderr.decode().strip()}")
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    tools = destination / "tools"
    if tools.exists():
        shutil.rmtree(tools)
    shutil.copytree(project_dir / "tools", tools, ignore=shutil.ignore_patterns("__pycache__"))
    for support in TOOLS_SUPPORT:
        if not (destination / support).exists() and (project_dir / support).exists():
            (destination / support).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project_dir / support, destination / support)
    return destination


def render_in(
    directory: Path,
    stack: str,
    overrides: list[str],
    chart_dir: Path | None,
    label: str,
    redaction_key: str | None = None,
) -> dict[str, Any]:
    """`render --json` of `stack` in a project directory, in a subprocess of this same Python."""
    with tempfile.TemporaryDirectory(prefix="plan-") as scratch:
        result_file = Path(scratch) / "render.json"
        command = [sys.executable, "-m", "tools.plan", "render", "--stack", stack, "--json", str(result_file)]
        for override in overrides:
            command += ["--set", override]
        if chart_dir is not None:
            command += ["--chart-dir", str(chart_dir)]
        env = {k: v for k, v in os.environ.items() if k != CHART_DIR_ENV} | {"PYTHONDONTWRITEBYTECODE": "1"}
        if redaction_key is not None:  # in the environment, not the command line: `ps` shows no key
            env[REDACTION_KEY_ENV] = redaction_key
        process = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=env, check=False)
        if process.returncode != 0:
            tail = "\n".join((process.stderr or process.stdout).strip().splitlines()[-15:])
            raise PlanError(f"rendering {stack!r} at {label} failed:\n{tail}")
        return json.loads(result_file.read_text())


def diff_stack(
    stack: str,
    base: str,
    overrides: list[str] | None = None,
    chart_dir: Path | None = None,
) -> PlanDiff:
    """Render `stack` at `base` and in this working tree (in parallel) and compare object by object."""
    if not (PROJECT_DIR / f"Pulumi.{stack}.yaml").exists():
        raise PlanError(f"the working tree has no Pulumi.{stack}.yaml")
    with tempfile.TemporaryDirectory(prefix="plan-base-") as scratch:
        base_dir = export_revision(base, stack, Path(scratch) / "project")
        # One key for both sides and for this comparison only: a secret that changed shows a different mark.
        key = secrets.token_hex(16)
        with ThreadPoolExecutor(max_workers=2) as pool:
            base_job = pool.submit(render_in, base_dir, stack, [], chart_dir, base, key)
            head_job = pool.submit(
                render_in, PROJECT_DIR, stack, list(overrides or []), chart_dir, "the working tree", key
            )
            before, after = base_job.result(), head_job.result()

    return compare_renders(stack, base, before, after)
