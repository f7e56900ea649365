"""tools.plan: review a change without a cluster. `python -m tools.plan render|diff ...` (README, "Reviewing a change
without a cluster"; the pull-request workflow's manifest diff).

One job per module:

    cli.py       the command line: arguments, output, exit codes (`__main__.py` runs it)
    render.py    a stack's objects: the program's, each Release's values and the chart rendered by real Helm; their
                 keys, Secret redaction, the YAML files of `render --out` and the JSON of `render --json`
    revision.py  the git side of `diff`: the base revision exported with `git archive` and rendered there by the
                 working tree's tools, in a subprocess, next to the working tree's render
    diff.py      the per-object diff of two renders and its text and markdown forms (pure)
    summary.py   what the objects add up to: pods, requests, limits, storage, and how the amounts print
    errors.py    PlanError, a problem the user can fix (printed as `error: ...`, exit code 2)

Quantities (`250m`, `512Mi`) are parsed by components.quantity, the grammar the stack settings validate with.

The names below stay importable from `tools.plan` itself (`from tools.plan import render_chart`, `plan.main([...])`),
as they were when this was one module.
"""

from __future__ import annotations

from components.quantity import parse_quantity
from tools.plan.cli import main
from tools.plan.diff import ObjectDiff, PlanDiff, compare_renders, diff_objects, format_markdown, format_text, to_text
from tools.plan.errors import PlanError
from tools.plan.render import (
    CHART_DIR_ENV,
    CLUSTER_SCOPED_KINDS,
    RENDER_MARKER,
    PlanObject,
    Rendered,
    chart_identity,
    chart_key,
    object_key,
    redact_secret_data,
    render_chart,
    render_stack,
    values_key,
    write_render,
)
from tools.plan.revision import PROJECT_DIR, diff_stack, export_revision, render_in
from tools.plan.summary import (
    WORKLOAD_KINDS,
    Summary,
    format_bytes,
    format_cpu,
    pod_amounts,
    running_containers,
    summarize,
    summary_line,
)

__all__ = [
    "CHART_DIR_ENV",
    "CLUSTER_SCOPED_KINDS",
    "PROJECT_DIR",
    "RENDER_MARKER",
    "WORKLOAD_KINDS",
    "ObjectDiff",
    "PlanDiff",
    "PlanError",
    "PlanObject",
    "Rendered",
    "Summary",
    "chart_identity",
    "chart_key",
    "compare_renders",
    "diff_objects",
    "diff_stack",
    "export_revision",
    "format_bytes",
    "format_cpu",
    "format_markdown",
    "format_text",
    "main",
    "object_key",
    "parse_quantity",
    "pod_amounts",
    "redact_secret_data",
    "render_chart",
    "render_in",
    "render_stack",
    "running_containers",
    "summarize",
    "summary_line",
    "to_text",
    "values_key",
    "write_render",
]
