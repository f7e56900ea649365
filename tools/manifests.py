"""Every Kubernetes object a stack registers, as plain manifests (for kubernetes-validate, checkov and reviewers).

    python -m tools.manifests --stack dev --out build/manifests/dev [--set rocketchat:mode=raw] [--show-secrets]

The objects come from the same in-process engine the tests use (tools.engine), so no cluster or CLI is needed.
Secret values are replaced by `<redacted>` unless asked otherwise. A helm.v3.Release is not a Kubernetes object:
its values are written beside the manifests as `<release>.values.yaml`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc

from components.tokens import RELEASE_TYPE
from tools import yamlio
from tools.engine import Recording, reveal, run_program
from tools.redaction import HIDDEN, Redaction


def plain(value: Any, show_secrets: bool = False, redaction: Redaction = HIDDEN) -> Any:
    """Recorded inputs as plain data: secrets redacted (or revealed), whole floats back to ints."""
    if rpc.is_rpc_secret(value):
        inner = rpc.unwrap_rpc_secret(value)
        return plain(inner, show_secrets, redaction) if show_secrets else redaction.hide(reveal(inner))
    if isinstance(value, dict):
        return {k: plain(v, show_secrets, redaction) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, show_secrets, redaction) for v in value]
    return reveal(value)


def _ordered(doc: dict[str, Any]) -> dict[str, Any]:
    first = ("apiVersion", "kind", "metadata")
    return {k: doc[k] for k in first if k in doc} | {k: v for k, v in sorted(doc.items()) if k not in first}


def kubernetes_objects(
    recording: Recording, show_secrets: bool = False, redaction: Redaction = HIDDEN
) -> list[dict[str, Any]]:
    """The Kubernetes objects of a recording, in registration order: what the program creates (not the objects it only
    reads, nor its patches of objects the chart made: `kubernetes_patches`)."""
    return [
        _ordered(plain(r.inputs, show_secrets, redaction))
        for r in recording.resources
        if r.type.startswith("kubernetes:") and r.type != RELEASE_TYPE and not r.read and not is_patch(r.type)
    ]


def is_patch(resource_type: str) -> bool:
    """A server-side-apply patch of an object another manager made (`kubernetes:apps/v1:DeploymentPatch`)."""
    return resource_type.startswith("kubernetes:") and resource_type.endswith("Patch")


def kubernetes_patches(recording: Recording) -> list[dict[str, Any]]:
    """The program's patches of objects the chart made, as the fields they set (kind `<Kind>Patch`)."""
    return [
        {**_ordered(plain(r.inputs, False, HIDDEN)), "kind": r.kind} for r in recording.resources if is_patch(r.type)
    ]


def release_values(recording: Recording, show_secrets: bool = False) -> dict[str, dict[str, Any]]:
    """Release name -> the values the program passes to it."""
    return {
        r.inputs.get("name") or r.name: plain(r.inputs.get("values") or {}, show_secrets)
        for r in recording.of_type(RELEASE_TYPE)
    }


def file_name(doc: dict[str, Any]) -> str:
    return f"{doc['kind'].lower()}-{doc['metadata']['name']}.yaml"


def write(objects: list[dict[str, Any]], values: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in objects:
        path = out / file_name(doc)
        path.write_text(yamlio.dump(doc, sort_keys=False))
        written.append(path)
    for release, release_vals in values.items():
        path = out / f"{release}.values.yaml"
        path.write_text(yamlio.dump(release_vals, sort_keys=False))
        written.append(path)
    return written


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are JSON when they parse as JSON, else strings."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            overrides[key] = json.loads(raw)
        except ValueError:
            overrides[key] = raw
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.manifests", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--show-secrets", action="store_true")
    args = parser.parse_args(argv)
    recording = run_program(args.stack, parse_overrides(args.overrides))
    written = write(
        kubernetes_objects(recording, args.show_secrets), release_values(recording, args.show_secrets), args.out
    )
    print(f"{len(written)} files written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
