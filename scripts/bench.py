#!/usr/bin/env python3
"""What the program itself costs on every `pulumi preview` / `pulumi up`, against the unavoidable minimum.

For each stack it runs, each in a fresh interpreter, 15 times (at least 7), interleaved:
  - the program: `__main__.py` with the real stack file under the in-process engine (tools.engine);
  - the import floor: a process that only imports the modules of pulumi, pydantic and the provider SDK that very
    program loaded (found by running it once and reading sys.modules), and runs none of the program's code.
Both sides load what they import for real (`import pydantic` and the SDK's version packages are lazy until touched).
It prints median and spread of both, their ratio, the resources registered and the peak memory; then the wall time
of the README's test command without the nats-server/checkov tests (median of --suite-runs runs), and in full.

    venv/bin/python scripts/bench.py [--runs 15] [--stacks dev prod] [--no-suite] [--suite-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

# The libraries of the floor: pulumi, the provider SDK and pydantic (with the two packages it is built on).
FLOOR_PACKAGES = ("pulumi", "pulumi_kubernetes", "pydantic", "pydantic_core", "annotated_types")

_PROGRAM = """
import json, resource, sys, time
start = time.perf_counter()
sys.path.insert(0, {project!r})
from tools.engine import run_program
recording = run_program({stack!r})
elapsed = time.perf_counter() - start
# The floor's libraries' modules this run really executed (the SDK and pydantic register many as lazy stubs).
modules = sorted(name for name, module in list(sys.modules.items())
                 if name.split(".")[0] in {packages!r} and type(module).__name__ != "_LazyModule")
print(json.dumps({{"seconds": elapsed, "resources": len(recording.resources), "modules": modules,
                   "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_FLOOR = """
import importlib, json, resource, time
start = time.perf_counter()
for name in {modules!r}:
    vars(importlib.import_module(name))  # touching a lazy module loads it, as the program's use of it does
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


# Children cache byte code as Python normally does (some machines export PYTHONDONTWRITEBYTECODE=1): the SDK's modules
# were byte-compiled when pip installed them, and the project's own are after the warm-up run, as on any second run.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_fresh(code: str) -> tuple[float, dict]:
    """Run `code` in a new interpreter; wall time from spawn to exit, plus what the child reported."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, env=CHILD_ENV, check=True
    )
    wall = time.perf_counter() - start
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"median {statistics.median(ordered):.3f}s  (min {ordered[0]:.3f}, max {ordered[-1]:.3f})"


def bench_stack(stack: str, runs: int) -> dict:
    program_code = _PROGRAM.format(project=str(PROJECT), stack=stack, packages=FLOOR_PACKAGES)
    _, first = run_fresh(program_code)  # warm the byte-code caches and learn which SDK modules the program loads
    floor_code = _FLOOR.format(modules=first["modules"])
    run_fresh(floor_code)

    program, floor, program_rss, floor_rss = [], [], [], []
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        wall, report = run_fresh(program_code)
        program.append(wall)
        program_rss.append(report["rss_mib"])
        wall, report = run_fresh(floor_code)
        floor.append(wall)
        floor_rss.append(report["rss_mib"])
    ratio = statistics.median(program) / statistics.median(floor)
    # Each program run against the floor run right after it: less swayed by a noisy neighbour than the medians.
    paired = statistics.median(p / f for p, f in zip(program, floor, strict=True))
    print(f"stack {stack}: {first['resources']} resources registered")
    print(f"  program (fresh process, in-process engine): {summary(program)}  peak RSS {max(program_rss):.0f} MiB")
    groups = sorted({m for m in first["modules"] if m.count(".") == 2 and m.startswith("pulumi_kubernetes.")})
    print(f"  import floor ({len(first['modules'])} modules of pulumi, pydantic and the SDK; {', '.join(groups)}):")
    print(f"                                              {summary(floor)}  peak RSS {max(floor_rss):.0f} MiB")
    print(f"  ratio program / floor: {ratio:.2f}x (target <= 1.30x); median of the {runs} paired ratios {paired:.2f}x")
    return {"stack": stack, "ratio": ratio, "resources": first["resources"]}


def bench_suite(label: str, args: list[str], runs: int) -> None:
    """The suite's wall time, as the README's test command runs it (the workers pytest-xdist starts included)."""
    walls, tail = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *args], capture_output=True, text=True, cwd=PROJECT, env=CHILD_ENV
        )
        walls.append(time.perf_counter() - start)
        tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]
        if done.returncode != 0:
            break
    print(f"test suite, {label}: {summary(walls)} over {len(walls)} run(s)  [{tail}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes of each kind per stack (at least 7)")
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"])
    parser.add_argument("--no-suite", action="store_true")
    parser.add_argument("--suite-runs", type=int, default=3, help="runs of the suite without nats-server/checkov")
    args = parser.parse_args()
    if args.runs < 7:
        parser.error("--runs must be at least 7 for a meaningful median and spread")
    for stack in args.stacks:
        bench_stack(stack, args.runs)
    if not args.no_suite:
        fast = ["-m", "not e2e and not nats_server and not checkov"]
        bench_suite("without nats-server/checkov/e2e tests", fast, args.suite_runs)
        bench_suite("in full (without e2e)", [], 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
