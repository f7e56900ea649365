"""Render a stack's Kubernetes objects without a cluster, and diff them against another git revision.

    python -m tools.plan render --stack dev --out build/plan/dev [--set KEY=VALUE ...] [--show-secrets]
                                [--chart-dir DIR] [--json FILE]
    python -m tools.plan diff --stack prod --base origin/main [--set KEY=VALUE ...] [--chart-dir DIR]
                              [--format text|markdown] [--exit-code]
    python -m tools.plan images --stack prod [--set KEY=VALUE ...] [--chart-dir DIR]

Both run the real program through the in-process engine the tests use (tools.engine), so they need neither the
Pulumi CLI nor a cluster. `render` writes every Kubernetes object as YAML (tools.manifests), the values of each
helm.v3.Release and, when a chart directory is given (or ROCKETCHAT_CHART_DIR is set), the chart rendered by real
Helm with those values; then it prints one summary line: objects by kind and what the workloads request and may use
(replicas x per-container amounts). `diff` renders the stack at a git revision and in the working tree and prints
a unified diff per object (keyed by kind/namespace/name), counts first. `images` prints every image the stack's pods
pull, one a line with the workloads that pull it (for mirroring into an air-gapped registry); in helm mode it needs
the chart (--chart-dir, ROCKETCHAT_CHART_DIR, or the one scripts/fetch-chart keeps). Secret values are redacted in
both, and always in `diff`. `--set` overrides apply to the working tree's side only, for a what-if against the base
(`diff --base HEAD --set rocketchat:monolith='{"replicas": 5}'`).

This module is the command line only: it parses the arguments, calls tools.plan.render or tools.plan.revision, prints
and picks the exit code (0; 1 for `diff --exit-code` when objects differ; 2 with `error: ...` for a PlanError).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tools.plan.diff import format_markdown, format_text
from tools.plan.errors import PlanError
from tools.plan.render import CHART_DIR_ENV, pinned_chart_dir, render_stack, write_render
from tools.plan.revision import diff_stack
from tools.plan.summary import summary_line
from tools.redaction import REDACTION_KEY_ENV


def _chart_dir(given: Path | None) -> Path | None:
    chart_dir = given or (Path(os.environ[CHART_DIR_ENV]) if os.environ.get(CHART_DIR_ENV) else None)
    if chart_dir is not None and not (chart_dir / "Chart.yaml").is_file():
        raise PlanError(f"{chart_dir} is not a chart directory (no Chart.yaml)")
    return chart_dir.resolve() if chart_dir else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="write every object of a stack as YAML and print a summary line")
    render.add_argument("--stack", required=True)
    render.add_argument("--out", type=Path, help="directory for the YAML files")
    render.add_argument("--json", type=Path, help="also write the objects and summary as one JSON document")
    render.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    render.add_argument("--show-secrets", action="store_true", help="write secret values instead of <redacted>")
    render.add_argument("--chart-dir", type=Path, help=f"the chart to render Releases with (default ${CHART_DIR_ENV})")
    # The key `diff` gives both its renders, so that a changed secret shows as changed (tools/redaction.py).
    render.add_argument("--redaction-key", help=argparse.SUPPRESS, default=os.environ.get(REDACTION_KEY_ENV))

    diff = commands.add_parser("diff", help="per-object diff of a stack between a git revision and the working tree")
    diff.add_argument("--stack", required=True)
    diff.add_argument("--base", required=True, metavar="REV", help="git revision to compare against, e.g. origin/main")
    diff.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    diff.add_argument("--chart-dir", type=Path, help=f"the chart to render Releases with (default ${CHART_DIR_ENV})")
    diff.add_argument("--format", choices=("text", "markdown"), default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when objects differ (like git diff)")

    images = commands.add_parser("images", help="every image the stack's pods pull, one a line, for mirroring")
    images.add_argument("--stack", required=True)
    images.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    images.add_argument("--chart-dir", type=Path, help=f"the chart to render Releases with (default ${CHART_DIR_ENV})")

    args = parser.parse_args(argv)
    try:
        chart_dir = _chart_dir(args.chart_dir)
        if args.command == "render":
            if args.out is None and args.json is None:
                parser.error("render needs --out DIR and/or --json FILE")
            from tools.manifests import parse_overrides  # with the engine and Pulumi, which `diff` does not load

            rendered = render_stack(
                args.stack,
                parse_overrides(args.overrides),
                show_secrets=args.show_secrets,
                chart_dir=chart_dir,
                redaction_key=args.redaction_key,
            )
            for warning in rendered.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            if args.out is not None:
                written = write_render(rendered, args.out)
                print(f"{len(written)} files written to {args.out}", file=sys.stderr)
            if args.json is not None:
                args.json.write_text(json.dumps(rendered.to_json(), indent=1, sort_keys=True))
            print(summary_line(args.stack, rendered.summary))
            return 0
        if args.command == "images":
            from tools.manifests import parse_overrides
            from tools.plan.images import format_images, stack_images

            rendered = render_stack(
                args.stack, parse_overrides(args.overrides), chart_dir=chart_dir or pinned_chart_dir()
            )
            if any(o.source.startswith("values:") for o in rendered.objects) and not any(
                o.source.startswith("chart:") for o in rendered.objects
            ):
                raise PlanError(
                    "helm mode: the chart's images are known only from the chart rendered with the stack's values; "
                    f"give --chart-dir or {CHART_DIR_ENV}, or fetch the pinned chart with scripts/fetch-chart"
                )
            print(format_images(stack_images(rendered.objects)), end="")
            return 0
        plan = diff_stack(args.stack, args.base, args.overrides, chart_dir)
        print(format_markdown(plan) if args.format == "markdown" else format_text(plan), end="")
        return 1 if args.exit_code and not plan.diff.empty else 0
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
