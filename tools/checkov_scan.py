"""checkov over every Kubernetes object the program registers (run as `scripts/checkov-scan`).

    scripts/checkov-scan [--install | --no-install] [--out DIR] [--json FILE] [--chart CHART_DIR]

Dumps the dev stack, the prod stack switched to raw resources (also with monitoring and autoscaling on: tools.variants)
and the prod stack as it is (helm mode: the objects this program creates beside the chart) with tools.manifests, then
runs

    checkov -d DIR --framework kubernetes --skip-download -o json --config-file .checkov.yaml

and prints passed / failed / skipped per stack. Exit status 1 when any check fails or a file does not parse.

checkov lives in a venv of its own (it pins an older `packaging` than the project's): `$CHECKOV_VENV`, by default
`~/.cache/rocketchat-checkov/venv`. It is created with a pinned checkov when missing (`--install` does only that;
`--no-install` exits 3 instead). `--chart` renders the official chart from a local directory with helm_python, for
comparison only: once with the values of a plain install (external MongoDB and NATS) and once with this program's
prod values, each scanned with no skips at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools import yamlio
from tools.variants import OBSERVED_PROD_RAW

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_FILE = PROJECT_DIR / ".checkov.yaml"
CHECKOV_VERSION = "3.3.30"
DEFAULT_VENV = Path.home() / ".cache" / "rocketchat-checkov" / "venv"

# name -> (stack, overrides)
STACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "prod-raw": ("prod", {"rocketchat:mode": "raw"}),
    "prod-helm": ("prod", {}),
    "prod-raw-observed": ("prod", OBSERVED_PROD_RAW),
}

# The official chart as a plain install would set it (external MongoDB and NATS, no ingress): see docs/security.md.
CHART_PLAIN_VALUES: dict[str, Any] = {
    "image": {"tag": "8.6.1"},
    "host": "chat.example.com",
    "replicaCount": 3,
    "microservices": {
        "enabled": True,
        "account": {"replicas": 2},
        "authorization": {"replicas": 2},
        "presence": {"replicas": 2},
        "ddpStreamer": {"replicas": 4},
        "streamHub": {"enabled": False},
    },
    "mongodb": {"enabled": False},
    "existingMongodbSecret": "rocketchat-mongo",
    "nats": {"enabled": False, "existingSecret": {"name": "rocketchat-nats", "key": "transporter"}},
    "ingress": {"enabled": False},
}


def checkov_venv() -> Path:
    return Path(os.environ.get("CHECKOV_VENV") or DEFAULT_VENV)


def checkov_binary(venv: Path | None = None) -> Path:
    return (venv or checkov_venv()) / "bin" / "checkov"


def install_checkov(venv: Path) -> Path:
    """Create the venv with the pinned checkov (needs PyPI); returns the checkov executable."""
    print(f"installing checkov {CHECKOV_VERSION} into {venv}", file=sys.stderr)
    python = os.environ.get("CHECKOV_PYTHON") or sys.executable
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"checkov=={CHECKOV_VERSION}"], check=True)
    return checkov_binary(venv)


def dump_stacks(out: Path) -> dict[str, int]:
    """Every Kubernetes object of each stack in STACKS, one YAML file each, under `out/<name>/`."""
    from tools.engine import run_program
    from tools.manifests import kubernetes_objects, write

    counts = {}
    for name, (stack, overrides) in STACKS.items():
        counts[name] = len(write(kubernetes_objects(run_program(stack, overrides)), {}, out / name))
    return counts


def render_chart(chart_dir: Path, out: Path) -> dict[str, int]:
    """The official chart rendered offline, with plain-install values and with this program's prod values."""
    from tools.engine import run_program
    from tools.manifests import release_values
    from tools.plan import render_chart as render

    ours = next(iter(release_values(run_program("prod")).values()))
    counts = {}
    for name, values in {"chart-plain": CHART_PLAIN_VALUES, "chart-our-values": ours}.items():
        documents = render(chart_dir, values, "rocketchat", "rocketchat")
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        for i, doc in enumerate(documents):
            (target / f"{i:02d}-{doc['kind'].lower()}-{doc['metadata']['name']}.yaml").write_text(
                yamlio.dump(doc, sort_keys=False)
            )
        counts[name] = len(documents)
    return counts


def run_checkov(checkov: Path, directory: Path, config_file: Path | None) -> dict[str, Any]:
    """checkov's JSON report for one directory (its exit status only says whether something failed).

    Runs in the scanned directory: checkov also reads a `.checkov.yaml` from its working directory, which must not
    apply to a scan without `config_file`.
    """
    command = [str(checkov), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "-o", "json"]
    if config_file is not None:
        command += ["--config-file", str(config_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=directory)
    try:
        report = json.loads(done.stdout)
    except ValueError as error:
        raise SystemExit(f"checkov gave no JSON report (exit {done.returncode}):\n{done.stderr[-2000:]}") from error
    if isinstance(report, list):  # one entry per framework
        report = next(r for r in report if r.get("check_type") == "kubernetes")
    return report


def skipped_check_ids(config_file: Path = CONFIG_FILE) -> list[str]:
    return list((yamlio.load(config_file.read_text()) or {}).get("skip-check") or [])


def summarise(report: dict[str, Any], groups: Iterable[str], drop: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Counts per top-level directory of the scan; `drop` removes check ids (to apply a skip list afterwards)."""
    dropped = set(drop)
    results = report.get("results") or {}
    summary: dict[str, dict[str, Any]] = {
        g: {"passed": 0, "failed": 0, "skipped": 0, "failures": [], "files": {}} for g in groups
    }
    for outcome in ("passed", "failed", "skipped"):
        for check in results.get(f"{outcome}_checks") or []:
            if check["check_id"] in dropped:
                continue
            group, _, file_name = check["file_path"].lstrip("/").partition("/")
            entry = summary.setdefault(group, {"passed": 0, "failed": 0, "skipped": 0, "failures": [], "files": {}})
            entry[outcome] += 1
            entry["files"][file_name] = entry["files"].get(file_name, 0) + 1
            if outcome == "failed":
                entry["failures"].append(
                    {
                        "check": check["check_id"],
                        "name": check["check_name"],
                        "file": file_name,
                        "resource": check["resource"],
                    }
                )
    errors = results.get("parsing_errors") or []
    for group in summary.values():
        group["parsing_errors"] = errors
    return summary


def _print(title: str, summary: dict[str, dict[str, Any]], show_failures: bool) -> None:
    print(title)
    for name, entry in summary.items():
        print(f"  {name:<18} passed={entry['passed']:<4} failed={entry['failed']:<4} skipped={entry['skipped']}")
        if show_failures:
            for failure in entry["failures"]:
                print(f"      {failure['check']} {failure['name']}: {failure['resource']} ({failure['file']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/checkov-scan", description=__doc__.split("\n\n")[0])
    install = parser.add_mutually_exclusive_group()
    install.add_argument("--install", action="store_true", help="only make sure checkov is installed, then exit")
    install.add_argument("--no-install", action="store_true", help="exit 3 instead of installing a missing checkov")
    parser.add_argument("--out", type=Path, help="keep the manifests and reports here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the summary as JSON to this file")
    parser.add_argument("--chart", type=Path, help="also scan the official chart rendered from this directory")
    args = parser.parse_args(argv)

    checkov = checkov_binary()
    if not checkov.exists():
        if args.no_install:
            print(f"checkov is not installed at {checkov}; run scripts/checkov-scan --install", file=sys.stderr)
            return 3
        checkov = install_checkov(checkov_venv())
    if args.install:
        print(f"checkov {CHECKOV_VERSION} ready at {checkov}")
        return 0

    with tempfile.TemporaryDirectory(prefix="checkov-scan-") as temp:
        out = args.out or Path(temp)
        counts = dump_stacks(out / "manifests")
        report = run_checkov(checkov, out / "manifests", CONFIG_FILE)
        (out / "report.json").write_text(json.dumps(report, indent=1))
        ours = summarise(report, STACKS)
        result: dict[str, Any] = {"checkov": CHECKOV_VERSION, "skip": skipped_check_ids(), "stacks": ours}
        for name, count in counts.items():
            ours[name]["objects"] = count
        _print(f"checkov {CHECKOV_VERSION} with .checkov.yaml (skipping {', '.join(result['skip'])}):", ours, True)

        if args.chart:
            render_chart(args.chart, out / "chart")
            chart_report = run_checkov(checkov, out / "chart", None)
            (out / "chart-report.json").write_text(json.dumps(chart_report, indent=1))
            groups = ("chart-plain", "chart-our-values")
            result["chart"] = summarise(chart_report, groups)
            result["chart_with_our_skips"] = summarise(chart_report, groups, drop=result["skip"])
            _print("official chart, no skips (for comparison):", result["chart"], False)
            _print("official chart, with our skip list:", result["chart_with_our_skips"], False)

    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    failed = sum(entry["failed"] for entry in ours.values())
    errors = next(iter(ours.values()))["parsing_errors"]
    total = {k: sum(entry[k] for entry in ours.values()) for k in ("passed", "skipped")}
    print(f"ours: passed={total['passed']} failed={failed} skipped={total['skipped']} parsing_errors={len(errors)}")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
