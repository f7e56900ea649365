"""The component package's schema, as Pulumi's component provider derives it from the components' types.

    venv/bin/python -m tools.component_schema > provider/schema.json

The committed `provider/schema.json` is what other languages' programs see: a change to a component's args or
outputs shows there, in review, and the tests hold the committed file to the components (and the e2e suite to
`pulumi package get-schema provider`).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from pulumi.provider.experimental.component import ComponentProvider

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "provider"
SCHEMA_FILE = PROVIDER_DIR / "schema.json"


def package_schema() -> dict[str, Any]:
    """The schema the plugin in provider/ serves (its components, name and version)."""
    spec = importlib.util.spec_from_file_location("rocketchat_component_package", PROVIDER_DIR / "__main__.py")
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)  # defines the components; hosts nothing (not run as __main__)
    from components import __version__

    provider = ComponentProvider(plugin.COMPONENTS, plugin.PACKAGE, version=__version__)
    return json.loads(provider.schema)


def outline(schema: dict[str, Any]) -> dict[str, Any]:
    """What a consumer's program depends on: each resource's inputs (with their types, plain or not, and which are
    required) and outputs, and each type's properties. `pulumi package get-schema` gives the same outline of the
    same package, with the schema normalised its own way (descriptions and empty sections it leaves out)."""

    def kind(prop: dict[str, Any]) -> Any:
        if "$ref" in prop:
            return prop["$ref"]
        inner = prop.get("items") or prop.get("additionalProperties")
        return [prop.get("type"), prop.get("plain", False), kind(inner) if inner else None]

    def properties(props: dict[str, Any]) -> dict[str, Any]:
        return {name: kind(prop) for name, prop in sorted(props.items())}

    return {
        "resources": {
            token: {
                "inputs": properties(resource.get("inputProperties") or {}),
                "required": sorted(resource.get("requiredInputs") or []),
                "outputs": properties(resource.get("properties") or {}),
            }
            for token, resource in sorted(schema["resources"].items())
        },
        "types": {token: properties(t.get("properties") or {}) for token, t in sorted(schema.get("types", {}).items())},
    }


def main() -> int:
    json.dump(package_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
