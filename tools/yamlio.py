"""YAML through libyaml (PyYAML's wheels are built with it), falling back to PyYAML's pure-Python classes.

The tools dump and parse every object of a stack, and a chart's whole rendering: libyaml does it several times faster,
with the same safe subset of YAML.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> Any:
    return yaml.load(text, Loader=SafeLoader)


def load_all(text: str) -> Iterator[Any]:
    return yaml.load_all(text, Loader=SafeLoader)


def dump(document: Any, **options: Any) -> str:
    return yaml.dump(document, Dumper=SafeDumper, **options)
