"""scripts/fetch-chart: the pinned chart into a cache outside the repo, verified, or a clear failure."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import types
from pathlib import Path

import helm_python

from components.versions import DEFAULT_CHART_VERSION
from tools.engine import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "fetch-chart"
UNREACHABLE = "http://127.0.0.1:9/charts"  # refused at once, with or without a network


def fetch_command(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """The script as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--cache", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_script = types.ModuleType("fetch_chart")
_script.__file__ = str(SCRIPT)
exec(compile(SCRIPT.read_text(), str(SCRIPT), "exec"), _script.__dict__)


def fetch(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """The script's main() in this process (no interpreter start-up per call), with what a process would show."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = _script.main(["--cache", str(cache), *args])
        except SystemExit as exit_:
            if isinstance(exit_.code, str):
                print(exit_.code, file=sys.stderr)
                code = 1
            else:
                code = exit_.code or 0
    return subprocess.CompletedProcess([str(SCRIPT), *args], code, out.getvalue(), err.getvalue())


def packaged_chart(tmp_path: Path, version: str) -> Path:
    """A stand-in `rocketchat` chart archive (helm create's scaffold) at `version`."""
    (tmp_path / "src").mkdir(parents=True)
    helm_python.Chart.create("rocketchat", tmp_path / "src")
    return Path(helm_python.package(tmp_path / "src" / "rocketchat", destination=tmp_path, version=version))


def test_without_the_repository_it_fails_saying_why(tmp_path: Path) -> None:
    result = fetch_command("--repo", UNREACHABLE, cache=tmp_path)
    assert result.returncode == 1
    assert f"could not download rocketchat {DEFAULT_CHART_VERSION} from {UNREACHABLE}" in result.stderr
    assert "needs network access" in result.stderr and "--from-archive" in result.stderr
    assert result.stdout == ""  # no export line to eval


def test_it_never_writes_into_the_repository() -> None:
    result = fetch(cache=PROJECT_DIR / "build" / "chart")
    assert result.returncode == 2
    assert "inside the repository" in result.stderr
    assert not (PROJECT_DIR / "build" / "chart").exists()


def test_an_archive_is_unpacked_into_the_versioned_cache_and_reused(tmp_path: Path) -> None:
    archive = packaged_chart(tmp_path, "9.9.9")
    cache = tmp_path / "cache"
    first = fetch("--version", "9.9.9", "--from-archive", str(archive), cache=cache)
    assert first.returncode == 0, first.stderr
    target = cache / "9.9.9" / "rocketchat"
    assert first.stdout == f"export ROCKETCHAT_CHART_DIR={target}\n"
    assert helm_python.Chart.load(target).version == "9.9.9"
    # Cached: no download (the repository is unreachable) and the same line.
    again = fetch("--version", "9.9.9", "--repo", UNREACHABLE, cache=cache)
    assert (again.returncode, again.stdout) == (0, first.stdout)


def test_an_archive_of_another_version_or_digest_is_refused(tmp_path: Path) -> None:
    wrong_version = fetch(
        "--version", "9.9.8", "--from-archive", str(packaged_chart(tmp_path, "9.9.9")), cache=tmp_path
    )
    assert wrong_version.returncode == 1 and "not rocketchat 9.9.8" in wrong_version.stderr
    # The pinned version's digest is the one the repository publishes: a look-alike archive is not used.
    impostor = packaged_chart(tmp_path / "pinned", DEFAULT_CHART_VERSION)
    refused = fetch("--from-archive", str(impostor), cache=tmp_path / "cache")
    assert refused.returncode == 1 and "but the repository published sha256:" in refused.stderr
    assert not (tmp_path / "cache" / DEFAULT_CHART_VERSION / "rocketchat").exists()
